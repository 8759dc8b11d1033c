/** The file side of a listening Unix socket, shared by the control channel and the pcsc socket. */
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';

/** Is something answering on this socket path (a running daemon), or is it a stale file? */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Make `path` ready for listen(): create its folder and remove the stale socket
 * of a previous run. A file that is not a socket, or a socket some live process
 * answers on, is never replaced: the error names the config key and the reason.
 */
export async function prepareSocketPath(path: string, key: string, inUse: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${key}: ${path} exists and is not a socket; refusing to replace it`);
  if (await socketAlive(path)) throw new Error(`${key}: ${path} is ${inUse}`);
  await unlink(path);
}
