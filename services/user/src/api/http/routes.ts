import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { blockRoutes } from './blocks/block.js';
import { blockListRoute } from './blocks/list-blocks.js';
import { followRequestRoutes } from './follows/follow-requests.js';
import { followRoutes } from './follows/follow.js';
import { followListRoutes } from './follows/list-follows.js';
import { muteRoutes } from './mutes/mute.js';
import { getMeRoute } from './profiles/get-me.js';
import { getProfileRoutes } from './profiles/get-profile.js';
import { updateMeRoute } from './profiles/update-me.js';
import { relationshipRoute } from './relationship/get-relationship.js';
import { getSettingsRoute } from './settings/get-settings.js';
import { updateSettingsRoute } from './settings/update-settings.js';
import { suggestionsRoute } from './suggestions/list-suggestions.js';

/** Every HTTP route of the user service (all under /api/v1/users). */
export function routes(ctx: AppContext) {
  return (app: HttpApp) => {
    for (const route of [
      getMeRoute,
      updateMeRoute,
      getProfileRoutes,
      getSettingsRoute,
      updateSettingsRoute,
      suggestionsRoute,
      muteRoutes,
      followRoutes,
      followRequestRoutes,
      followListRoutes,
      blockRoutes,
      blockListRoute,
      relationshipRoute,
    ]) {
      route(app, ctx);
    }
  };
}
