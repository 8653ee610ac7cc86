import { Type } from '@nova/platform';
import { LANGUAGE_MAX_LENGTH, LANGUAGE_PATTERN, NOTIFICATION_KEYS, PRIVACY_KEYS, WHO_CAN_MESSAGE } from '../../../domain/settings.js';

const flags = (keys: readonly string[], optional: boolean) =>
  Type.Object(Object.fromEntries(keys.map((k) => [k, optional ? Type.Optional(Type.Boolean()) : Type.Boolean()])), { additionalProperties: false });

export const WhoCanMessage = Type.Union([Type.Literal(WHO_CAN_MESSAGE[0]), Type.Literal(WHO_CAN_MESSAGE[1]), Type.Literal(WHO_CAN_MESSAGE[2])]);
export const Language = Type.String({ pattern: LANGUAGE_PATTERN, maxLength: LANGUAGE_MAX_LENGTH, description: 'a BCP 47 language tag, e.g. "en", "pt-BR" (stored in canonical casing)' });

export const SettingsSchema = Type.Object({
  language: Type.String(),
  who_can_message: WhoCanMessage,
  notifications: flags(NOTIFICATION_KEYS, false),
  privacy: flags(PRIVACY_KEYS, false),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when the settings last changed (at first: when the profile was created)' }),
});

export const SettingsPatchBody = Type.Object(
  {
    language: Type.Optional(Language),
    who_can_message: Type.Optional(WhoCanMessage),
    notifications: Type.Optional(flags(NOTIFICATION_KEYS, true)),
    privacy: Type.Optional(flags(PRIVACY_KEYS, true)),
  },
  { additionalProperties: false, minProperties: 1 },
);
