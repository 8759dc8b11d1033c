/**
 * SIGHUP (`systemctl reload scardgate`) runs the config store's reload
 * (src/gateway/config-store.ts: the one apply path, shared with the web
 * editor), one at a time, between RELOADING=1 and READY=1.
 */
/** SIGHUP handler: one reload at a time (a second signal during a reload runs once after it), none once stopping. */
export function serialReloads(run: () => Promise<void>, stopping: () => boolean): () => void {
  let busy: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    do {
      again = false;
      if (stopping()) return;
      await run();
    } while (again);
  };
  return () => {
    if (busy) {
      again = true;
      return;
    }
    busy = loop().finally(() => (busy = undefined));
  };
}
