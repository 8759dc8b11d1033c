/** Where Debian's faketime package puts libfaketime (the multi-threaded variant), on the architectures we build for; undefined when it is not installed. */
import { existsSync } from 'node:fs';

export const LIBFAKETIME: string | undefined = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'arm-linux-gnueabihf']
  .map((arch) => `/usr/lib/${arch}/faketime/libfaketimeMT.so.1`)
  .find((p) => existsSync(p));
