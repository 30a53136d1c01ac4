000100* ARPAYM - AR payments extract (IBM i file ARPAYMP)
000200* CCSID 273, fixed length 60.
000300       01  ARPAYM-RECORD.
000400           05  PM-REC-TYPE         PIC X.
000500           05  PM-PAYMENT-ID       PIC X(12).
000600           05  PM-CUST-NO          PIC 9(8).
000700           05  PM-DOC-NO           PIC X(10).
000800           05  PM-VALUE-DATE       PIC S9(7) COMP-3.
000900           05  PM-AMOUNT           PIC S9(11)V99 COMP-3.
001000           05  PM-CURRENCY         PIC X(3).
001100           05  PM-METHOD           PIC X(2).
001200           05  FILLER              PIC X(13).
001300       01  ARPAYM-HEADER.
001400           05  PH-REC-TYPE         PIC X.
001500           05  PH-FILE-ID          PIC X(10).
001600           05  PH-EXTRACT-DATE     PIC 9(8).
001700           05  PH-SYSTEM           PIC X(10).
001800           05  FILLER              PIC X(31).
001900       01  ARPAYM-TRAILER.
002000           05  PT-REC-TYPE         PIC X.
002100           05  PT-RECORD-COUNT     PIC 9(9).
002200           05  PT-HASH-AMOUNT      PIC S9(17)V99 COMP-3.
002300           05  FILLER              PIC X(40).
