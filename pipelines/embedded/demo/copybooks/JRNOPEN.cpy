000100* JRNOPEN - journal entries of the AR items ledger (DSPJRN outfile of
000200* journal ARJRN, file AROPENP), CCSID 273, fixed length 209: the DSPJRN
000300* header fields, then the record image in the AROPEN layout.
000400       01  JRNOPEN-ENTRY.
000500           05  JOSEQN              PIC 9(10).
000600           05  JOCODE              PIC X.
000700           05  JOENTT              PIC X(2).
000800           05  JOTSTP              PIC X(26).
000900           05  JOJOB               PIC X(10).
001000           05  JOUSER              PIC X(10).
001100           05  JOPGM               PIC X(10).
001200           05  JOOBJ               PIC X(10).
001300           05  JOCCID              PIC 9(10).
001400           05  JOESD               PIC X(120).
