import { idOf, isNode } from './as.values.js';

/**
 * Where an activity stands among those this node sends about the same post (docs/federation.md, "Order"):
 * `follows`, the keys of what it must arrive after, the first one still on its way counting (a like or a reply
 * after the creation of what it is about; an edit or a deletion after the post's last change, else its
 * creation; an undo after what it undoes); `is`, the keys it stands for from now on. Likes and replies of
 * one post are not ordered among themselves: nothing makes one wait for another.
 */
export function orderOf(activity: unknown): { follows: string[]; is: string[] } {
  if (!isNode(activity)) return { follows: [], is: [] };
  const own = typeof activity.id === 'string' ? [`activity ${activity.id}`] : [];
  const object = Array.isArray(activity.object) ? (activity.object[0] as unknown) : activity.object;
  const post = idOf(object);
  switch (activity.type) {
    case 'Create': {
      const parent = isNode(object) ? idOf(object.inReplyTo) : null;
      return {
        follows: parent ? [`created ${parent}`] : [],
        is: post ? [...own, `created ${post}`] : own,
      };
    }
    case 'Update':
    case 'Delete':
      return post
        ? { follows: [`changed ${post}`, `created ${post}`], is: [...own, `changed ${post}`] }
        : { follows: [], is: own };
    case 'Like':
    case 'Dislike':
    case 'Flag':
    case 'Lock':
    case 'Add':
    case 'Remove':
      return { follows: post ? [`created ${post}`] : [], is: own };
    case 'Undo': {
      const inner = orderOf(object);
      return { follows: [...(post ? [`activity ${post}`] : []), ...inner.follows], is: own };
    }
    case 'Announce': {
      if (!isNode(object)) return { follows: [], is: own };
      // A post announced as it is (a boost): after its creation. An activity: as that activity, and it stands
      // for it (members' nodes receive the group's Announce, not the activity).
      if (typeof object.actor !== 'string' && !Array.isArray(object.actor))
        return { follows: post ? [`created ${post}`] : [], is: own };
      const inner = orderOf(object);
      return { follows: inner.follows, is: [...own, ...inner.is] };
    }
    default:
      return { follows: [], is: own };
  }
}
