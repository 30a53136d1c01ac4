000100* AROPEN - AR items ledger extract (IBM i file AROPENP): open and
000200* cleared items. CCSID 273, fixed length 120.
000300       01  AROPEN-RECORD.
000400           05  OI-REC-TYPE         PIC X.
000500           05  OI-DOC-NO           PIC X(10).
000600           05  OI-CUST-NO          PIC 9(8).
000700           05  OI-DOC-TYPE         PIC X(2).
000800           05  OI-DOC-DATE         PIC 9(8).
000900           05  OI-DUE-DATE         PIC S9(7) COMP-3.
001000           05  OI-AMOUNT           PIC S9(11)V99 COMP-3.
001100           05  OI-OPEN-AMOUNT      PIC S9(11)V99 COMP-3.
001200           05  OI-CURRENCY         PIC X(3).
001300           05  OI-CONTRACT-REF     PIC X(12).
001400           05  OI-DUNNING-LEVEL    PIC 9.
001500           05  OI-TEXT             PIC X(40).
001600           05  FILLER              PIC X(17).
001700       01  AROPEN-HEADER.
001800           05  OH-REC-TYPE         PIC X.
001900           05  OH-FILE-ID          PIC X(10).
002000           05  OH-EXTRACT-DATE     PIC 9(8).
002100           05  OH-SYSTEM           PIC X(10).
002150           05  OH-JRN-SEQ          PIC 9(12).
002200           05  FILLER              PIC X(79).
002300       01  AROPEN-TRAILER.
002400           05  OT-REC-TYPE         PIC X.
002500           05  OT-RECORD-COUNT     PIC 9(9).
002600           05  OT-HASH-AMOUNT      PIC S9(17)V99 COMP-3.
002700           05  OT-HASH-OPEN        PIC S9(17)V99 COMP-3.
002800           05  FILLER              PIC X(90).
