import { activityContract } from '@switchyard/api-contracts';
import { implement } from '@switchyard/infra/trpc';
import type { MeshStatus } from '@switchyard/api-contracts';
import type { ActivityStore } from './store.js';

/** The activity router: handlers only, typed from the contract. */
export function createActivityRouter(store: ActivityStore, meshStatus: () => Promise<MeshStatus>) {
  return implement(activityContract, {
    feed: ({ input, ctx }) => store.feed({ ...input, ownerId: ctx.user!.id }),
    meshStatus: () => meshStatus(),
  });
}
