"""Operations: the audit log, exit codes and failures."""
