/**
 * Errors that say a directory takes no writes now but may later (remounted
 * read-write, space freed, permission fixed): the gateway degrades what needs
 * the directory and keeps running instead of failing.
 */
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT']);
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

export const errCode = (e: unknown): string => (e as NodeJS.ErrnoException | undefined)?.code ?? '';
export const isNotWritable = (e: unknown): boolean => NOT_WRITABLE.has(errCode(e));
export const isDiskFull = (e: unknown): boolean => DISK_FULL.has(errCode(e));
