import t from 'tap';
import { ABIS, layoutsFor, hostAbi, WIRE } from '../../src/api/pcsc/layout.js';

// Sizes measured with offsetof/sizeof on x86_64 against pcsc-lite 1.9.9's headers
// (docs/pcsc.md §1); the wire structs have only
// fixed-width fields, so armhf and aarch64 must give the same numbers.
const WIRE_SIZES = {
  version: 12, establish: 12, release: 8, connect: 152, reconnect: 24, disconnect: 12, begin: 8, end: 12,
  cancel: 8, status: 8, transmit: 32, control: 24, getset: 280, waitReaderStateChange: 8, header: 8, readerState: 184,
};

for (const abi of [ABIS.x86_64, ABIS.aarch64, ABIS.armhf]) {
  t.test(`wire layouts on ${abi.name}`, async (t) => {
    const L = layoutsFor(abi);
    for (const [name, size] of Object.entries(WIRE_SIZES)) t.equal(L[name as keyof typeof WIRE_SIZES].size, size, `${name} size`);
    t.same(L.readerState.offsets, {
      readerName: 0, eventCounter: 128, readerState: 132, readerSharing: 136, cardAtr: 140, cardAtrLength: 176, cardProtocol: 180,
    });
    t.same(L.connect.offsets, { hContext: 0, szReader: 4, dwShareMode: 132, dwPreferredProtocols: 136, hCard: 140, dwActiveProtocol: 144, rv: 148 });
    t.same(L.transmit.offsets, {
      hCard: 0, ioSendPciProtocol: 4, ioSendPciLength: 8, cbSendLength: 12, ioRecvPciProtocol: 16, ioRecvPciLength: 20, pcbRecvLength: 24, rv: 28,
    });
    t.same(L.getset.offsets, { hCard: 0, dwAttrId: 4, pbAttr: 8, cbAttrLen: 272, rv: 276 });
    t.equal(L.readerState.size * 16, 2944, 'table size');
  });
}

t.test('API types differ between LP64 and ILP32', async (t) => {
  for (const abi of [ABIS.x86_64, ABIS.aarch64]) {
    const L = layoutsFor(abi);
    t.equal(L.ioRequest.size, 16, `${abi.name} SCARD_IO_REQUEST`);
    t.equal(L.readerStateApi.size, 80, `${abi.name} SCARD_READERSTATE`);
    t.same(L.readerStateApi.offsets, { szReader: 0, pvUserData: 8, dwCurrentState: 16, dwEventState: 24, cbAtr: 32, rgbAtr: 40 });
  }
  const A = layoutsFor(ABIS.armhf);
  t.equal(A.ioRequest.size, 8, 'armhf SCARD_IO_REQUEST');
  t.equal(A.readerStateApi.size, 56, 'armhf SCARD_READERSTATE');
  t.same(A.readerStateApi.offsets, { szReader: 0, pvUserData: 4, dwCurrentState: 8, dwEventState: 12, cbAtr: 16, rgbAtr: 20 });
});

t.test('host ABI', async (t) => {
  t.equal(hostAbi('x64'), ABIS.x86_64);
  t.equal(hostAbi('arm64'), ABIS.aarch64);
  t.equal(hostAbi('arm'), ABIS.armhf);
  t.throws(() => hostAbi('s390x'), /no struct layout for CPU architecture 's390x'/);
  t.equal(WIRE.readerState.size, 184);
});
