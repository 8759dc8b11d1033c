/**
 * The technician password, stored only as an scrypt hash in the state
 * directory (mode 0600). Shared by the daemon (login, first-start generation)
 * and `scardctl passwd`, which both work on the file directly.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PASSWORD_FILE = 'http-password.json';
/** The generated first password, in clear, for the technician to read once (0600); gone when the password is changed. */
export const INITIAL_PASSWORD_FILE = 'initial-web-password';
export const MIN_PASSWORD_LENGTH = 8;

/** N=2^15, r=8: about 32 MiB and tens of ms per check on a Pi-class board, which is what makes guessing slow. */
const PARAMS = { N: 1 << 15, r: 8, p: 1, keylen: 32 } as const;

interface StoredHash {
  scheme: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const maxmem = (N: number, r: number): number => 128 * N * r * 2;

export const passwordPath = (stateDir: string): string => join(stateDir, PASSWORD_FILE);
export const initialPasswordPath = (stateDir: string): string => join(stateDir, INITIAL_PASSWORD_FILE);

export async function hashPassword(password: string): Promise<StoredHash> {
  const salt = randomBytes(16);
  const { N, r, p, keylen } = PARAMS;
  const key = await scrypt(password, salt, keylen, { N, r, p, maxmem: maxmem(N, r) });
  return { scheme: 'scrypt', N, r, p, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** Writes the file atomically (temp + rename) with mode 0600 so no reader ever sees half a hash. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  // `sudo scardctl passwd` must leave a file the unprivileged daemon (owner of the state dir) can read.
  if (process.getuid?.() === 0) {
    const owner = await stat(dir);
    if (owner.uid !== 0) await chown(tmp, owner.uid, owner.gid);
  }
  await rename(tmp, path);
}

export function checkPasswordStrength(password: string): string | undefined {
  if (typeof password !== 'string') return 'password must be a string';
  if (password.length < MIN_PASSWORD_LENGTH) return `password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'password must have at most 1024 characters';
  return undefined;
}

export async function setPassword(stateDir: string, password: string): Promise<void> {
  const problem = checkPasswordStrength(password);
  if (problem) throw new Error(problem);
  const stored = await hashPassword(password);
  await writePrivateFile(passwordPath(stateDir), JSON.stringify(stored) + '\n');
  // A generated first password is no longer the password: its clear copy goes.
  await rm(initialPasswordPath(stateDir), { force: true });
}

async function readStored(stateDir: string): Promise<StoredHash | undefined> {
  let text: string;
  try {
    text = await readFile(passwordPath(stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const s = JSON.parse(text) as StoredHash;
  if (s.scheme !== 'scrypt' || !s.salt || !s.hash) throw new Error(`${passwordPath(stateDir)}: not an scrypt password hash`);
  return s;
}

export async function hasPassword(stateDir: string): Promise<boolean> {
  return (await readStored(stateDir)) !== undefined;
}

/** Constant-time comparison; false when no password is set. The file is re-read so `scardctl passwd` applies at once. */
export async function verifyPassword(stateDir: string, password: string): Promise<boolean> {
  const s = await readStored(stateDir);
  if (!s || typeof password !== 'string' || password.length > 1024) return false;
  const expected = Buffer.from(s.hash, 'base64');
  const key = await scrypt(password, Buffer.from(s.salt, 'base64'), expected.length, { N: s.N, r: s.r, p: s.p, maxmem: maxmem(s.N, s.r) });
  return timingSafeEqual(key, expected);
}

/** 20 random characters from an alphabet without look-alikes (0/O, 1/l/I): readable off a console, ~116 bits. */
export function generatePassword(length = 20): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const out: string[] = [];
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // Rejection sampling keeps every character equally likely.
      if (b < 256 - (256 % alphabet.length) && out.length < length) out.push(alphabet[b % alphabet.length]);
    }
  }
  return out.join('');
}

/**
 * When no password is set: make one, store its hash, and put the password itself in a file only the service user
 * can read (never in a log line: journald keeps those for anyone in its reader groups). Returns that file's path, or
 * undefined when a password already exists.
 */
export async function ensurePassword(stateDir: string): Promise<string | undefined> {
  if (await hasPassword(stateDir)) return undefined;
  const pw = generatePassword();
  await setPassword(stateDir, pw);
  const file = initialPasswordPath(stateDir);
  await writePrivateFile(file, pw + '\n');
  return file;
}
