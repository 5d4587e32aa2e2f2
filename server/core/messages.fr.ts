/**
 * French texts of the messages people read (core/messages.ts), keyed by their English template, `{0}`, `{1}`
 * for the values. Plain Canadian French, as the Government of Canada's style guides write it (« » quotes, a
 * space before : ; ? !). `tests/unit/messages.test.ts` fails on a message raised without its French text here,
 * on one here that nothing raises, and on placeholders that differ.
 */
export const FR: Readonly<Record<string, string>> = {
  // Signing in, the API's own rules.
  'Too many sign-in attempts; wait a few minutes.':
    'Trop de tentatives de connexion; attendez quelques minutes.',
  'No identity provider {0}.': 'Aucun fournisseur d’identité {0}.',
  'The identity provider "{0}" is unreachable: {1}':
    'Le fournisseur d’identité « {0} » est injoignable : {1}',
  'Sign-in with {0} failed: {1}': 'La connexion avec {0} a échoué : {1}',
  'The sign-in could not be verified ({0}); start again.':
    'La connexion n’a pas pu être vérifiée ({0}); recommencez.',
  'The sign-in could not be verified; start again.': 'La connexion n’a pas pu être vérifiée; recommencez.',
  'Send the X-CSRF-Token header from GET /api/v1/auth/csrf with this request.':
    'Envoyez avec cette requête l’en-tête X-CSRF-Token obtenu de GET /api/v1/auth/csrf.',
  'More than {0} changes in a minute; wait a moment and try again.':
    'Plus de {0} modifications en une minute; attendez un instant, puis réessayez.',
  '{0} is not allowed on {1}{2}; it answers {3}.':
    '{0} n’est pas permis sur {1}{2}; cette adresse accepte {3}.',
  'Sign in to do this.': 'Connectez-vous pour faire ceci.',
  'Only an instance administrator can do this.': 'Seul un administrateur du nœud peut faire ceci.',
  'The body is not valid JSON.': 'Le corps de la requête n’est pas du JSON valide.',
  'invalid JSON': 'JSON non valide',
  'The body is larger than the configured limit.': 'Le corps de la requête dépasse la limite configurée.',
  'The body is larger than the limit of {0} bytes.':
    'Le corps de la requête dépasse la limite de {0} octets.',
  'too large': 'trop volumineux',
  "The body's encoding or charset is not supported: {0}.":
    'L’encodage ou le jeu de caractères du corps n’est pas pris en charge : {0}.',
  'Unsupported content encoding or charset.': 'Encodage ou jeu de caractères non pris en charge.',
  'The request body was incomplete: {0}.': 'Le corps de la requête était incomplet : {0}.',
  'The request body was incomplete.': 'Le corps de la requête était incomplet.',
  'The path is not validly percent-encoded.': 'Le chemin n’est pas correctement encodé (codage %).',
  'malformed percent-encoding': 'codage % mal formé',
  'The database does not answer; try again in a few seconds.':
    'La base de données ne répond pas; réessayez dans quelques secondes.',
  'The database is busy; try again in a moment.':
    'La base de données est occupée; réessayez dans un instant.',
  'No route for {0} {1}.': 'Aucune route pour {0} {1}.',
  required: 'obligatoire',
  'outside the file': 'hors du fichier',

  // Files and folders.
  'This file has {0} bytes.': 'Ce fichier compte {0} octets.',
  "The group's storage quota is used up.": 'Le quota de stockage du groupe est épuisé.',
  'This file has no thumbnail (yet).': 'Ce fichier n’a pas (encore) de vignette.',
  'Only the uploader or a moderator can change this file.':
    'Seuls la personne qui a téléversé ce fichier et les modérateurs peuvent le modifier.',
  "This group's file library is kept on {0}; add files there, or attach them to a post here.":
    'La bibliothèque de fichiers de ce groupe est tenue sur {0}; ajoutez-y vos fichiers, ou joignez-les à une publication ici.',
  'Send one or more files in the multipart field named files.':
    'Envoyez un ou plusieurs fichiers dans le champ multipart nommé files.',
  'No file {0}.': 'Aucun fichier {0}.',
  'Send the new content in the multipart field named file.':
    'Envoyez le nouveau contenu dans le champ multipart nommé file.',
  'Attachments are not kept in folders.': 'Les pièces jointes ne sont pas rangées dans des dossiers.',
  'Only a moderator can restore what a moderator removed.':
    'Seul un modérateur peut rétablir ce qu’un modérateur a retiré.',
  'This file was deleted too long ago to be restored.':
    'Ce fichier a été supprimé il y a trop longtemps pour être rétabli.',
  'Attach only files you uploaded to this group as attachments, once.':
    'Joignez seulement des fichiers que vous avez téléversés dans ce groupe comme pièces jointes, une seule fois.',
  'not an attachable upload': 'pas un téléversement qui peut être joint',
  'This file is over the size limit.': 'Ce fichier dépasse la taille maximale.',
  'This upload would take the group past its storage quota.':
    'Ce téléversement ferait dépasser au groupe son quota de stockage.',
  'type {0} refused': 'type {0} refusé',
  'Files of type {0} are not accepted here.': 'Les fichiers de type {0} ne sont pas acceptés ici.',
  'Too many files in one upload.': 'Trop de fichiers dans un même téléversement.',
  'too many files': 'trop de fichiers',
  'Too many form fields.': 'Trop de champs dans le formulaire.',
  'too many fields': 'trop de champs',
  'Too many parts in the form.': 'Trop de parties dans le formulaire.',
  'too many parts': 'trop de parties',
  'A form field name is too long.': 'Le nom d’un champ du formulaire est trop long.',
  'field name too long': 'nom de champ trop long',
  'A form field is too long.': 'Un champ du formulaire est trop long.',
  'too long': 'trop long',
  'unexpected file field': 'champ de fichier inattendu',
  'Send files in the multipart field named {0}.': 'Envoyez les fichiers dans le champ multipart nommé {0}.',
  'Send files as multipart/form-data.': 'Envoyez les fichiers en multipart/form-data.',
  'not multipart': 'pas en multipart',
  'A file is {0} MiB at most.': 'Un fichier fait au plus {0} Mio.',
  'malformed multipart': 'multipart mal formé',
  'The multipart body is not valid: {0}.': 'Le corps multipart n’est pas valide : {0}.',
  'No such folder in this group.': 'Ce dossier n’existe pas dans ce groupe.',
  'not in this group': 'pas dans ce groupe',
  'The cursor is not valid.': 'Le curseur n’est pas valide.',
  'invalid cursor': 'curseur non valide',
  'This attachment is not available on this node: {0}.':
    'Cette pièce jointe n’est pas disponible sur ce nœud : {0}.',
  'File {0} has no version {1}.': 'Le fichier {0} n’a pas de version {1}.',
  'This group is hosted on another node; folders cannot be added to it from here yet.':
    'Ce groupe est hébergé sur un autre nœud; on ne peut pas encore y ajouter de dossiers d’ici.',
  'too deep': 'trop profond',
  'Folders nest {0} deep at most.': 'Les dossiers s’imbriquent sur {0} niveaux au plus.',
  'No folder {0}.': 'Aucun dossier {0}.',
  'Only the folder’s creator or a moderator can change it.':
    'Seuls la personne qui a créé ce dossier et les modérateurs peuvent le modifier.',
  'A folder cannot move into itself or one of its subfolders.':
    'Un dossier ne peut pas être déplacé dans lui-même ni dans l’un de ses sous-dossiers.',
  'would make a cycle': 'créerait une boucle',
  'Empty the folder first (deleted files count until they are purged).':
    'Videz d’abord le dossier (les fichiers supprimés comptent jusqu’à leur purge).',
  'An image is {0} MiB at most.': 'Une image fait au plus {0} Mio.',
  '{0}': '{0}',
  invalid: 'non valide',
  'The upload is not valid: {0}': 'Le téléversement n’est pas valide : {0}',
  'Send the image in a multipart field named {0}.': 'Envoyez l’image dans un champ multipart nommé {0}.',
  'An image must be PNG, JPEG, WebP or GIF; this file is {0}.':
    'Une image doit être en PNG, JPEG, WebP ou GIF; ce fichier est de type {0}.',
  'An image must be PNG, JPEG, WebP or GIF; this file is not an image.':
    'Une image doit être en PNG, JPEG, WebP ou GIF; ce fichier n’est pas une image.',
  'not an accepted image type': 'type d’image non accepté',

  // Groups and memberships.
  'already used': 'déjà utilisé',
  'The handle {0} is taken.': 'Le nom d’utilisateur {0} est déjà pris.',
  'This group was deleted too long ago to be restored.':
    'Ce groupe a été supprimé il y a trop longtemps pour être rétabli.',
  'No group {0}.': 'Aucun groupe {0}.',
  'This group has no avatar.': 'Ce groupe n’a pas d’avatar.',
  'This group has no banner.': 'Ce groupe n’a pas de bannière.',
  'You may not see this group.': 'Vous ne pouvez pas voir ce groupe.',
  'You may not read this group.': 'Vous ne pouvez pas lire ce groupe.',
  'You may not join this group.': 'Vous ne pouvez pas vous joindre à ce groupe.',
  'You may not ask to join this group.': 'Vous ne pouvez pas demander à vous joindre à ce groupe.',
  'You have no invitation to this group.': 'Vous n’avez pas d’invitation à ce groupe.',
  'You may not leave this group.': 'Vous ne pouvez pas quitter ce groupe.',
  'You may not post in this group.': 'Vous ne pouvez pas publier dans ce groupe.',
  'You may not moderate this group.': 'Vous ne pouvez pas modérer ce groupe.',
  'You may not manage the members of this group.': 'Vous ne pouvez pas gérer les membres de ce groupe.',
  'You may not change the settings of this group.':
    'Vous ne pouvez pas modifier les paramètres de ce groupe.',
  'You may not manage the administrators of this group.':
    'Vous ne pouvez pas gérer les administrateurs de ce groupe.',
  'You may not read the audit log of this group.': 'Vous ne pouvez pas lire le journal d’audit de ce groupe.',
  'You may not delete this group.': 'Vous ne pouvez pas supprimer ce groupe.',
  'You may not restore this group.': 'Vous ne pouvez pas rétablir ce groupe.',
  'Already a member, invited or waiting for approval.': 'Déjà membre, invité ou en attente d’approbation.',
  'Only the node itself records such answers.': 'Seul le nœud lui-même enregistre de telles réponses.',
  'Only people of the group’s own node invite to it.':
    'Seules les personnes du nœud du groupe peuvent y inviter.',
  'No such person here.': 'Cette personne n’existe pas ici.',
  '{0} has no pending request.': '{0} n’a pas de demande en attente.',
  'Invitations to this group are sent by its own node.':
    'Les invitations à ce groupe sont envoyées par son propre nœud.',
  '{0} is banned from this group; lift the ban first.':
    '{0} est banni de ce groupe; levez d’abord le bannissement.',
  'You have no pending request here.': 'Vous n’avez pas de demande en attente ici.',
  'You cannot act on a member of this group.': 'Vous ne pouvez pas agir sur un membre de ce groupe.',
  'You cannot act on a moderator of this group.': 'Vous ne pouvez pas agir sur un modérateur de ce groupe.',
  'You cannot act on an administrator of this group.':
    'Vous ne pouvez pas agir sur un administrateur de ce groupe.',
  'You cannot act on the owner of this group.': 'Vous ne pouvez pas agir sur le propriétaire de ce groupe.',
  'The owner cannot be removed or banned; transfer ownership first.':
    'Le propriétaire ne peut pas être retiré ni banni; transférez d’abord la propriété.',
  '{0} is not in this group.': '{0} ne fait pas partie de ce groupe.',
  '{0} is not banned.': '{0} n’est pas banni.',
  '{0} is not a member of this group.': '{0} n’est pas membre de ce groupe.',
  'The membership changed meanwhile; try again.': 'L’adhésion a changé entre-temps; réessayez.',
  'You already own this group.': 'Ce groupe vous appartient déjà.',
  'same person': 'même personne',
  'No person {0}.': 'Aucune personne {0}.',

  // Notifications, organizations, people.
  'No notification {0}.': 'Aucune notification {0}.',
  'No thread {0}.': 'Aucun fil {0}.',
  'No organization {0}.': 'Aucune organisation {0}.',
  'An organization with the slug {0} exists.': 'Une organisation avec l’identifiant {0} existe déjà.',
  'The account for this identity no longer exists.': 'Le compte associé à cette identité n’existe plus.',
  'This account was deactivated by an administrator.': 'Ce compte a été désactivé par un administrateur.',
  'Could not find a free handle for this person.':
    'Aucun nom d’utilisateur libre n’a été trouvé pour cette personne.',
  'Administrators cannot deactivate their own account.':
    'Les administrateurs ne peuvent pas désactiver leur propre compte.',
  'Choose two different accounts.': 'Choisissez deux comptes différents.',
  'same as from': 'identique au compte d’origine',
  'Your account no longer exists.': 'Votre compte n’existe plus.',
  'unknown organization': 'organisation inconnue',
  'Only administrators list deactivated people.':
    'Seuls les administrateurs peuvent lister les personnes désactivées.',
  'No avatar.': 'Aucun avatar.',
  'expected an http:// or https:// address': 'une adresse http:// ou https:// est attendue',
  'expected an email address': 'une adresse courriel est attendue',
  'expected a phone number': 'un numéro de téléphone est attendu',
  'expected a domain such as tbs-sct.gc.ca': 'un domaine comme tbs-sct.gc.ca est attendu',

  // The schemas' own messages for fields.
  'must not be empty': 'ne doit pas être vide',
  'give a name or a folderId': 'indiquez un nom ou un folderId',
  'give a name or a parentId': 'indiquez un nom ou un parentId',
  'give either person or email': 'indiquez soit person, soit email',
  'expected 2-63 lower-case letters, digits or -': '2 à 63 lettres minuscules, chiffres ou - sont attendus',
  'expected a group handle, or handle@host for a group on another node':
    'le nom d’un groupe est attendu, ou nom@hôte pour un groupe sur un autre nœud',
  'give ids or all: true': 'indiquez des ids ou all: true',
  'expected a thread id': 'l’identifiant d’un fil est attendu',
  'expected a domain such as dept.gc.ca, *.gc.ca or host:8443':
    'un domaine comme dept.gc.ca, *.gc.ca ou hôte:8443 est attendu',
  'expected an id': 'un identifiant est attendu',

  // Real time, settings, threads, pages, lookup.
  'Too many {0} requests; slow down.': 'Trop de demandes {0}; ralentissez.',
  'The {0} payload is not valid.': 'Le contenu de {0} n’est pas valide.',
  'A connection follows at most {0} groups and threads; unsubscribe from some first.':
    'Une connexion suit au plus {0} groupes et fils; cessez d’abord d’en suivre quelques-uns.',
  'The settings are being changed by others; try again.':
    'D’autres personnes modifient les paramètres en ce moment; réessayez.',
  'No reply {0}.': 'Aucune réponse {0}.',
  'No report {0}.': 'Aucun signalement {0}.',
  'This report is already resolved.': 'Ce signalement est déjà réglé.',
  "Only the group's owner and admins can post without notifying.":
    'Seuls le propriétaire et les administrateurs du groupe peuvent publier sans envoyer de notifications.',
  'This thread was deleted.': 'Ce fil a été supprimé.',
  'This thread is locked.': 'Ce fil est verrouillé.',
  'No such reply in this thread.': 'Cette réponse n’existe pas dans ce fil.',
  'not in this thread': 'pas dans ce fil',
  'Only the author can edit this.': 'Seul l’auteur peut modifier ceci.',
  'This was deleted.': 'Ceci a été supprimé.',
  'Only the author or a moderator can remove this.':
    'Seuls l’auteur et les modérateurs peuvent retirer ceci.',
  'Moderators give a reason when they remove a post.':
    'Les modérateurs indiquent une raison lorsqu’ils retirent une publication.',
  'This address is a web page (text/html) or an ActivityPub document.':
    'Cette adresse est une page Web (text/html) ou un document ActivityPub.',
  'Build it with `node scripts/build-client.mjs` (npm run build does).':
    'Construisez-le avec `node scripts/build-client.mjs` (npm run build le fait).',
  'There is no ActivityPub document at this address.':
    'Il n’y a pas de document ActivityPub à cette adresse.',
  'No such thread in this group.': 'Ce fil n’existe pas dans ce groupe.',
  'No public group found for {0}.': 'Aucun groupe public trouvé pour {0}.',
  'Search by @group@host or by a URL.': 'Cherchez par @groupe@hôte ou par une adresse URL.',
  'expected @group@host or an http(s) URL': '@groupe@hôte ou une adresse http(s) est attendu',
  'Federation is off on this node.': 'La fédération est désactivée sur ce nœud.',
};
