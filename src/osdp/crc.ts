/**
 * OSDP check characters (docs/osdp.md §2): CRC-16/AUG-CCITT (polynomial
 * 0x1021, initial value 0x1D0F, no reflection, no final XOR; sent low byte
 * first) and the 8-bit checksum (two's complement of the byte sum).
 */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0x1d0f;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ buf[i]) & 0xff];
  return crc;
}

export function checksum8(buf: Uint8Array, start = 0, end = buf.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + buf[i]) & 0xff;
  return (0x100 - sum) & 0xff;
}
