/**
 * What the panel changed and must survive a restart: the line speed and
 * each PD's address (osdp_COMSET) and SCBK (osdp_KEYSET). One JSON file in
 * the state directory, mode 0600, written atomically. Keys are never logged.
 */
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';

export interface PdState {
  address?: number;
  /** hex */
  scbk?: string;
}

export interface OsdpState {
  baudRate?: number;
  /** By position in the config's pds list. */
  pds: PdState[];
}

export class OsdpStateFile {
  readonly path: string;
  constructor(dir: string) {
    this.path = join(dir, 'osdp-pd.json');
  }

  async load(): Promise<OsdpState> {
    try {
      const j = JSON.parse(await readFile(this.path, 'utf8')) as Partial<OsdpState>;
      return { baudRate: typeof j.baudRate === 'number' ? j.baudRate : undefined, pds: Array.isArray(j.pds) ? j.pds : [] };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { pds: [] };
      throw new Error(`${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  async save(s: OsdpState): Promise<void> {
    await mkdir(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.path);
  }
}
