import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeed, type FeedHarness } from './support.js';

let h: FeedHarness;
beforeAll(async () => {
  h = await startFeed();
});
afterAll(async () => h?.stop());


describe('home feed', () => {
  it("shows a followed author's new post, through fan-out, with its author and why it is there", async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const postId = await h.post(author, { text: 'hello followers' });
    const updated = await h.fannedOut(postId);
    expect(updated.data).toMatchObject({ post_id: postId, author_id: author.id, delivery: 'fanout' });
    expect(updated.data.timelines).toBeGreaterThanOrEqual(1);
    const page = await h.feed(r, { mode: 'latest' });
    expect(page.items.map((i) => i.post.id)).toEqual([postId]);
    expect(page.items[0]).toMatchObject({ reason: 'following', reposted_by: null, post: { text: 'hello followers', author_id: author.id }, author: { id: author.id, username: author.username } });
    expect(await h.feedIds(r, 'ranked')).toEqual([postId]);
  });

  it("shows the reader's own posts, and nothing of authors they do not follow", async () => {
    const stranger = await h.newUser();
    const r = await h.reader();
    const mine = await h.post(r);
    const theirs = await h.post(stranger);
    await h.fannedOut(theirs);
    await h.fannedOut(mine);
    const page = await h.feed(r);
    expect(page.items.map((i) => i.post.id)).toEqual([mine]);
    expect(page.items[0]!.reason).toBe('own');
  });

  it('builds the timeline of a reader who never opened the feed from PostgreSQL, with posts from before the follow', async () => {
    const author = await h.newUser();
    const older = await h.post(author);
    await h.projected(older);
    const r = await h.newUser();
    await h.follow(r, author);
    await h.followProjected(r, author);
    expect(await h.feedIds(r, 'latest')).toEqual([older]);
  });

  it('merges the recent posts of a newly followed author into a cached timeline', async () => {
    const author = await h.newUser();
    const before = await h.post(author);
    await h.projected(before);
    const r = await h.reader();
    await h.follow(r, author);
    await h.feedUntil(r, (ids) => ids.includes(before), 'the backfilled post', 'latest');
  });

  it('does not show replies in home feeds', async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const root = await h.post(author);
    const reply = await h.post(author, { reply_to: root });
    await h.fannedOut(root);
    await h.projected(reply);
    expect(await h.feedIds(r, 'latest')).toEqual([root]);
  });

  it('drops a post once its author deletes it', async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const keep = await h.post(author);
    const gone = await h.post(author);
    await h.fannedOut(gone);
    expect(await h.feedIds(r, 'latest')).toEqual([gone, keep]);
    expect((await h.api('DELETE', `/api/v1/posts/${gone}`, { token: author.token })).status).toBe(204);
    await h.feedUntil(r, (ids) => ids.length === 1 && ids[0] === keep, 'the deleted post to go', 'latest');
  });

  it('drops an author\'s posts when the reader unfollows them', async () => {
    const author = await h.newUser();
    const other = await h.newUser();
    const r = await h.reader(author, other);
    const a = await h.post(author);
    const b = await h.post(other);
    await h.fannedOut(a);
    await h.fannedOut(b);
    expect((await h.feedIds(r, 'latest')).sort()).toEqual([a, b].sort());
    await h.unfollow(r, author);
    await h.feedUntil(r, (ids) => ids.length === 1 && ids[0] === b, 'the unfollowed author to go', 'latest');
  });

  it('drops posts across a block, whoever blocks whom', async () => {
    const author = await h.newUser();
    const r1 = await h.reader(author);
    const r2 = await h.reader(author);
    const p = await h.post(author);
    await h.fannedOut(p);
    expect(await h.feedIds(r1)).toEqual([p]);
    expect(await h.feedIds(r2)).toEqual([p]);
    await h.block(r1, author);
    await h.block(author, r2);
    await h.feedUntil(r1, (ids) => ids.length === 0, 'the blocked author to go');
    await h.feedUntil(r2, (ids) => ids.length === 0, 'the blocking author to go');
  });

  it('hides the posts of an author the reader mutes', async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const p = await h.post(author);
    await h.fannedOut(p);
    expect(await h.feedIds(r)).toEqual([p]);
    await h.mute(r, author);
    await h.feedUntil(r, (ids) => ids.length === 0, 'the muted author to go');
  });

  it('keeps followers-only posts to followers and private posts to their author', async () => {
    const author = await h.newUser();
    const follower = await h.reader(author);
    const reposter = await h.newUser();
    const viaRepost = await h.reader(reposter);
    const forFollowers = await h.post(author, { visibility: 'followers' });
    const onlyMe = await h.post(author, { visibility: 'private' });
    const open = await h.post(author, { visibility: 'public' });
    await h.fannedOut(open);
    await h.fannedOut(forFollowers);
    await h.fannedOut(onlyMe);
    expect((await h.feedIds(follower, 'latest')).sort()).toEqual([forFollowers, open].sort());
    expect((await h.feedIds(author, 'latest')).sort()).toEqual([forFollowers, onlyMe, open].sort());
    // A reposter's followers see the public post, never the followers-only one.
    await h.follow(reposter, author);
    expect((await h.api('POST', `/api/v1/posts/${open}/repost`, { token: reposter.token })).status).toBeLessThan(300);
    await h.feedUntil(viaRepost, (ids) => ids.length === 1 && ids[0] === open, 'the reposted post');
  });

  it('follows a post\'s visibility when its author edits it: private takes it out, public again brings it back', async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const p = await h.post(author);
    await h.fannedOut(p);
    expect(await h.feedIds(r, 'latest')).toEqual([p]);
    expect((await h.api('PATCH', `/api/v1/posts/${p}`, { token: author.token, body: { visibility: 'private' } })).status).toBe(200);
    await h.feedUntil(r, (ids) => ids.length === 0, 'the now-private post to go', 'latest');
    expect(await h.feedIds(author, 'latest')).toEqual([p]);
    expect((await h.api('PATCH', `/api/v1/posts/${p}`, { token: author.token, body: { visibility: 'public' } })).status).toBe(200);
    await h.feedUntil(r, (ids) => ids.length === 1 && ids[0] === p, 'the public-again post to return', 'latest');
  });

  it("hides an account's posts from non-followers once it goes private", async () => {
    const author = await h.newUser();
    const reposter = await h.newUser();
    const r = await h.reader(reposter);
    const p = await h.post(author);
    await h.projected(p);
    expect((await h.api('POST', `/api/v1/posts/${p}/repost`, { token: reposter.token })).status).toBeLessThan(300);
    const page = (await h.feedUntil(r, (ids) => ids.includes(p), 'the repost'));
    expect(page).toEqual([p]);
    expect((await h.feed(r)).items[0]).toMatchObject({ reason: 'repost', reposted_by: reposter.id });
    await h.makePrivate(author);
    await h.feedUntil(r, (ids) => ids.length === 0, 'the now-private author to go');
  });

  it('shows a post once even when it arrives both from its author and as a repost', async () => {
    const author = await h.newUser();
    const reposter = await h.newUser();
    const r = await h.reader(author, reposter);
    const p = await h.post(author);
    await h.fannedOut(p);
    expect((await h.api('POST', `/api/v1/posts/${p}/repost`, { token: reposter.token })).status).toBeLessThan(300);
    await h.followProjected(r, reposter);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await h.feedIds(r, 'latest')).toEqual([p]);
    expect(await h.feedIds(r, 'ranked')).toEqual([p]);
  });

  it("removes a deleted account's posts", async () => {
    const author = await h.newUser();
    const r = await h.reader(author);
    const p = await h.post(author);
    await h.fannedOut(p);
    expect(await h.feedIds(r)).toEqual([p]);
    await h.publishEvent('auth', { aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: author.id, data: { user_id: author.id, deleted_by: author.id } });
    await h.feedUntil(r, (ids) => ids.length === 0, "the deleted account's post to go");
  });

  it('refuses a missing token, a bad mode and an edited cursor with stable codes', async () => {
    const r = await h.reader();
    expect((await h.api('GET', '/api/v1/feed')).status).toBe(401);
    const badMode = await h.api('GET', '/api/v1/feed?mode=popular', { token: r.token });
    expect(badMode.status).toBe(400);
    expect(badMode.body.error.code).toBe('VALIDATION_FAILED');
    for (const cursor of ['not-a-cursor', Buffer.from('["t","x","y"]').toString('base64url'), Buffer.from('["r","home-1",3]').toString('base64url')]) {
      const res = await h.api('GET', `/api/v1/feed?mode=latest&cursor=${cursor}`, { token: r.token });
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
});
