/**
 * A stamp of the current technician password: a hash of the stored scrypt record (salt and hash, so a new
 * password, or the same one set again, gives a new stamp). Sessions remember the stamp they logged in with;
 * when it changes (`scardctl passwd`, daemon running or not) they end. Cached by the file's mtime, size and
 * inode, so a request costs one stat.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { passwordPath } from './password.js';

export class PasswordStamp {
  private key = '';
  private stamp = '';
  constructor(private readonly stateDir: string) {}

  async current(): Promise<string> {
    const path = passwordPath(this.stateDir);
    let key: string;
    try {
      const st = await stat(path);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      key = 'none';
    }
    if (key !== this.key) {
      const text = key === 'none' ? '' : await readFile(path, 'utf8').catch(() => '');
      this.stamp = createHash('sha256').update(text).digest('base64url');
      this.key = key;
    }
    return this.stamp;
  }
}
