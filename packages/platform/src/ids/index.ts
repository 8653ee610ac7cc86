import { v7 as uuidv7, validate, version } from 'uuid';

/** Time-sortable ids (UUIDv7), generated in the application. */
export function newId(): string {
  return uuidv7();
}

export function isUuid(s: string): boolean {
  return validate(s);
}

export function isUuidV7(s: string): boolean {
  return validate(s) && version(s) === 7;
}
