/**
 * Every descriptor of libccid's readers/ folder through our parser: each
 * file's parse output -> descriptor values -> the 54 bytes -> parseCcidDescriptor,
 * which must give the same values back. Prints counts per exchange level
 * and the multi-slot readers. The files are not in this repository: they
 * come from Debian's ccid source package at run time (`make test-ccid-libccid`),
 * or from a directory given as LIBCCID_READERS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCcidDescriptor, exchangeLevel, parseCcidDescriptor } from '../../drivers/ccid/descriptor.js';
import { parseReaderFile } from '../../emulators/ccid/libccid-format.js';

function fromDebian(): string {
  const dir = mkdtempSync(join(tmpdir(), 'libccid-src-'));
  const lists = join(dir, 'lists');
  mkdirSync(join(lists, 'partial'), { recursive: true });
  mkdirSync(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  // A private deb-src list and apt state, so nothing in /etc/apt changes.
  writeFileSync(
    join(dir, 'src.sources'),
    'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
  );
  const o = ['-o', `Dir::Etc::SourceList=${join(dir, 'src.sources')}`, '-o', 'Dir::Etc::SourceParts=/nonexistent', '-o', `Dir::State::Lists=${lists}`, '-o', `Dir::Cache=${join(dir, 'cache')}`, '-o', 'Debug::NoLocking=1'];
  try {
    execFileSync('apt-get', [...o, 'update', '-qq'], { cwd: dir, stdio: 'pipe' });
    execFileSync('apt-get', [...o, 'source', '-qq', 'ccid'], { cwd: dir, stdio: 'pipe' });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' / ') ?? (e as Error).message;
    throw new Error(
      `libccid's readers/ folder is needed: apt-get source ccid failed (${err}). Install dpkg-dev and make deb.debian.org's source pool reachable, or point LIBCCID_READERS at a readers/ directory of the CCID source`,
      { cause: e },
    );
  }
  const src = readdirSync(dir).find((f) => f.startsWith('ccid-') && existsSync(join(dir, f, 'readers')));
  if (!src) throw new Error(`apt-get source ccid left no ccid-*/readers directory in ${dir}`);
  return join(dir, src, 'readers');
}

const dir = process.env.LIBCCID_READERS ?? fromDebian();
// supported_readers.txt is the list of readers, not a parse output.
const files = readdirSync(dir).filter((f) => f.endsWith('.txt') && f !== 'supported_readers.txt');
if (files.length === 0) throw new Error(`no *.txt reader files in ${dir}`);
const levels: Record<string, number> = {};
const multiSlot: string[] = [];
const failures: string[] = [];
let interfaces = 0;
for (const f of files) {
  try {
    const { profile } = parseReaderFile(readFileSync(join(dir, f), 'latin1'), f);
    for (const i of profile.interfaces) {
      const back = parseCcidDescriptor(encodeCcidDescriptor(i.descriptor));
      for (const [k, v] of Object.entries(i.descriptor)) if ((back as unknown as Record<string, number>)[k] !== v) throw new Error(`${k}: ${v} came back as ${(back as unknown as Record<string, number>)[k]}`);
      interfaces++;
      const l = exchangeLevel(back);
      levels[l] = (levels[l] ?? 0) + 1;
      if (back.maxSlotIndex > 0) multiSlot.push(`${f} (${back.maxSlotIndex + 1} slots)`);
    }
  } catch (e) {
    failures.push(`${f}: ${(e as Error).message}`);
  }
}
console.log(`libccid readers/: ${files.length} files, ${interfaces} CCID interfaces parsed`);
console.log(`exchange levels: ${JSON.stringify(levels)}`);
console.log(`multi-slot readers: ${multiSlot.length}: ${multiSlot.join(', ')}`);
if (failures.length > 0) {
  console.error(`${failures.length} file(s) did not parse:\n${failures.join('\n')}`);
  process.exit(1);
}
