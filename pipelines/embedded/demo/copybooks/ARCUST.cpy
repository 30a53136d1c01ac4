000100* ARCUST - AR customer master extract (IBM i file ARCUSTP)
000200* CCSID 273, fixed length 320. Record types: H header, D data, T trailer.
000300       01  ARCUST-RECORD.
000400           05  CM-REC-TYPE         PIC X.
000500           05  CM-CUST-NO          PIC 9(8).
000600           05  CM-NAME             PIC X(40).
000700           05  CM-STREET           PIC X(35).
000800           05  CM-POSTCODE         PIC X(10).
000900           05  CM-CITY             PIC X(30).
001000           05  CM-COUNTRY          PIC X(2).
001100           05  CM-VAT-ID           PIC X(14).
001200           05  CM-IBAN             PIC X(34).
001300           05  CM-CONTACT          PIC X(35).
001400           05  CM-EMAIL            PIC X(60).
001500           05  CM-CREDIT-LIMIT     PIC S9(11)V99 COMP-3.
001600           05  CM-CURRENCY         PIC X(3).
001700           05  CM-PAY-TERMS        PIC X(4).
001800           05  CM-CREATED          PIC S9(7) COMP-3.
001900           05  CM-STATUS           PIC X.
002000               88  CM-ACTIVE       VALUE 'A'.
002100               88  CM-BLOCKED      VALUE 'B'.
002200               88  CM-INACTIVE     VALUE 'I'.
002300           05  CM-RISK-CLASS       PIC S9(4) COMP.
002400           05  FILLER              PIC X(30).
002500       01  ARCUST-HEADER.
002600           05  CH-REC-TYPE         PIC X.
002700           05  CH-FILE-ID          PIC X(10).
002800           05  CH-EXTRACT-DATE     PIC 9(8).
002900           05  CH-SYSTEM           PIC X(10).
002950           05  CH-JRN-SEQ          PIC 9(12).
003000           05  FILLER              PIC X(279).
003100       01  ARCUST-TRAILER.
003200           05  CT-REC-TYPE         PIC X.
003300           05  CT-RECORD-COUNT     PIC 9(9).
003400           05  CT-HASH-CREDIT      PIC S9(17)V99 COMP-3.
003500           05  FILLER              PIC X(300).
