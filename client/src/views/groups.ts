// How a group is listed anywhere (home, search, a profile): its avatar, its name in the viewer's language,
// its address, member count and who sees it, and where it lives (groupOrigin: the seam for other nodes).
import { html, nothing } from 'lit';
import type { Group } from '../api/api';
import { t } from '../i18n/i18n';
import { groupName, groupOrigin, inLanguage } from './group/group.page';
import { language } from '../i18n/format';

export function groupItem(g: Group) {
  const name = inLanguage(g.names);
  const origin = groupOrigin(g);
  return html`<li class="group-item" data-handle=${g.handle}>
    ${
      g.avatarUrl
        ? html`<img class="avatar small" src=${g.avatarUrl} alt="" width="32" height="32" />`
        : html`<span class="avatar small initials" aria-hidden="true"
            >${groupName(g).slice(0, 1).toUpperCase()}</span
          >`
    }
    <div>
      <a
        href=${`/groups/${encodeURIComponent(g.handle)}`}
        lang=${name && name.lang !== language() ? name.lang : nothing}
        >${groupName(g)}</a
      >
      ${origin ? html`<span class="badge origin remote">${t.group.origin(origin.host)}</span>` : nothing}
      <p class="muted small">
        @${g.handle} · ${t.group.members(g.memberCount)} · ${t.group.visibility[g.visibility]}
      </p>
    </div>
  </li>`;
}

export function groupList(groups: Group[], id?: string) {
  if (!groups.length) return html`<p class="muted">${t.home.noGroups}</p>`;
  return html`<ul class="group-list" id=${id ?? nothing}>
    ${groups.map(groupItem)}
  </ul>`;
}
