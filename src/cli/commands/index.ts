/**
 * scardctl's command table. A command is one module exporting a Command;
 * registering it is one line here.
 */
import type { Command } from './command.js';
import { readers } from './readers.js';
import { watch } from './watch.js';
import { events } from './events.js';
import { send } from './send.js';
import { script } from './script.js';
import { insert } from './insert.js';
import { remove } from './remove.js';
import { pinpad } from './pinpad.js';
import { diag } from './diag.js';
import { passwd, token } from './passwd.js';
import { fleet } from './fleet.js';

export const COMMANDS: Command[] = [readers, watch, events, send, script, insert, remove, pinpad, diag, passwd, token, fleet];

export { UsageError, type Command, type CommandIo } from './command.js';
