/**
 * The CCID emulator's reader profiles by key: the one list the profile table
 * (profiles.ts, which must define each) and the configuration schema
 * (drivers/ccid/config.ts, drivers.ccid.emulate[].profile) both take, kept
 * apart from the table so the schema does not load the profiles' data.
 */
export const PROFILE_KEYS = ['acr1252u', 'acr122u', 'omnikey-class', 'gempc-twin', 'ezio-pinpad', 'cherry-st-xx44', 'two-slot'] as const;
export type ProfileKey = (typeof PROFILE_KEYS)[number];
