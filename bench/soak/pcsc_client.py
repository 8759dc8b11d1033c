"""A PC/SC client for the soak: Debian's libpcsclite (through pyscard's scard
module) against scardgate's socket (PCSCLITE_CSOCK_NAME). Loops until killed:
establish, connect to READER, begin transaction, SELECT + GET CHALLENGE, end
transaction, disconnect. Prints one line per exchange ("ok") or failure
("err <hex code> <step>"); reconnects after the daemon restarts."""
import sys
import time
from smartcard.scard import (SCardEstablishContext, SCardReleaseContext, SCardConnect, SCardDisconnect,
                             SCardBeginTransaction, SCardEndTransaction, SCardTransmit, SCARD_SCOPE_USER,
                             SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD, SCARD_S_SUCCESS)

reader = sys.argv[1]
pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
APDUS = [[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00], [0x00, 0x84, 0x00, 0x00, 0x08]]


def out(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


while True:
    hr, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    if hr != SCARD_S_SUCCESS:
        out("err %08X establish" % (hr & 0xFFFFFFFF))
        time.sleep(0.5)
        continue
    try:
        for _ in range(50):
            hr, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
            if hr != SCARD_S_SUCCESS:
                out("err %08X connect" % (hr & 0xFFFFFFFF))
                time.sleep(0.2)
                break
            hr = SCardBeginTransaction(card)
            if hr != SCARD_S_SUCCESS:
                out("err %08X begin" % (hr & 0xFFFFFFFF))
            else:
                for apdu in APDUS:
                    hr, resp = SCardTransmit(card, proto, apdu)
                    if hr != SCARD_S_SUCCESS:
                        out("err %08X transmit" % (hr & 0xFFFFFFFF))
                        break
                    out("ok")
                SCardEndTransaction(card, SCARD_LEAVE_CARD)
            SCardDisconnect(card, SCARD_LEAVE_CARD)
            time.sleep(pause)
    finally:
        SCardReleaseContext(ctx)
