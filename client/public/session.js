// Shows who is signed in on the placeholder page, and prepares the sign-out form's CSRF token.
(async function showSession() {
  const me = await fetch('/api/v1/me', { headers: { accept: 'application/json' } });
  if (!me.ok) return;
  const body = await me.json();
  document.getElementById('who').textContent = `${body.profile.displayName} (@${body.profile.handle})`;
  const org = body.profile.organization;
  if (org) document.getElementById('org').textContent = `· ${org.name.en} / ${org.name.fr}`;
  const csrf = await fetch('/api/v1/auth/csrf').then((r) => r.json());
  document.getElementById('csrf').value = csrf.token;
  document.getElementById('signed-out').hidden = true;
  document.getElementById('signed-in').hidden = false;
})();
