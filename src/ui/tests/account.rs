//! The account page: API keys and authorized apps.

use super::*;

pub(super) fn account_view() -> AccountView {
    AccountView {
        csrf_token: "csrf-account-321".into(),
        username: "alice".into(),
        message: Some("API key created.".into()),
        error: None,
        new_key: Some(NewKeyView {
            name: "backup script".into(),
            api_key: "kw_ak_0123456789abcdefABCDEF-_xyz".into(),
        }),
        api_keys: vec![
            ApiKeyView {
                id: "key-1".into(),
                name: "backup script".into(),
                scope: "photos.read".into(),
                created: "2024-05-01 10:00 UTC".into(),
                last_used: Some("2024-05-02 08:30 UTC".into()),
                expires: Some("2024-08-01 10:00 UTC".into()),
            },
            ApiKeyView {
                id: "key-2".into(),
                name: "laptop".into(),
                scope: String::new(),
                created: "2024-04-01 09:00 UTC".into(),
                last_used: None,
                expires: None,
            },
        ],
        apps: vec![
            AppView {
                grant_id: "grant-1".into(),
                client_name: "Photo Printer".into(),
                scope: "photos.read profile".into(),
                since: "2024-03-01".into(),
                last_used: Some("2024-05-02".into()),
            },
            AppView {
                grant_id: "grant-2".into(),
                client_name: "Calendar".into(),
                scope: String::new(),
                since: "2024-02-01".into(),
                last_used: None,
            },
        ],
        sessions: vec![
            SessionView {
                signed_in: "2024-05-02 08:00 UTC".into(),
                expires: "2024-06-01 08:00 UTC".into(),
                this_browser: true,
            },
            SessionView {
                signed_in: "2024-05-01 09:00 UTC".into(),
                expires: "2024-05-31 09:00 UTC".into(),
                this_browser: false,
            },
        ],
        other_sessions: true,
        password_min_chars: 8,
        expiry_choices: expiry_choices(),
        sign_in_methods: vec![
            SignInMethodView {
                name: "corp".into(),
                display_name: "Corp SSO".into(),
                linked_since: Some("2024-05-01 10:00 UTC".into()),
            },
            SignInMethodView {
                name: "discord".into(),
                display_name: "Discord".into(),
                linked_since: None,
            },
        ],
        has_password: true,
        developer_link: false,
    }
}

pub(super) fn empty_account_view() -> AccountView {
    AccountView {
        message: None,
        new_key: None,
        api_keys: Vec::new(),
        apps: Vec::new(),
        sessions: vec![SessionView {
            signed_in: "2024-05-02 08:00 UTC".into(),
            expires: "2024-06-01 08:00 UTC".into(),
            this_browser: true,
        }],
        other_sessions: false,
        sign_in_methods: Vec::new(),
        ..account_view()
    }
}

fn expiry_choices() -> Vec<ChoiceView> {
    [("30d", "In 30 days"), ("90d", "In 90 days"), ("", "Never")]
        .into_iter()
        .map(|(value, label)| ChoiceView {
            value: value.into(),
            label: label.into(),
        })
        .collect()
}

/// The start tags of every `<form action="{action}">`, one list per form.
fn forms(html: &str, action: &str) -> Vec<Vec<Tag>> {
    form_sources(html, action)
        .into_iter()
        .map(start_tags)
        .collect()
}

/// The markup of every `<form action="{action}">`, from `<form` to `</form>`.
fn form_sources<'a>(html: &'a str, action: &str) -> Vec<&'a str> {
    let marker = format!("action=\"{action}\"");
    html.match_indices(&marker)
        .map(|(action_at, _)| {
            let start = html[..action_at].rfind("<form").expect("on a form");
            let end = start + html[start..].find("</form>").expect("the form is closed");
            &html[start..end]
        })
        .collect()
}

/// The text inside the form's `<button>`, tags stripped: what a screen reader announces.
fn button_name(form: &str) -> String {
    let start = form.find("<button").expect("a button");
    let start = start + form[start..].find('>').unwrap() + 1;
    let end = start
        + form[start..]
            .find("</button>")
            .expect("the button is closed");
    let mut text = String::new();
    let mut in_tag = false;
    for c in form[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

fn hidden_value<'a>(form: &'a [Tag], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|tag| {
            tag.name == "input"
                && tag.attribute("type") == Some("hidden")
                && tag.attribute("name") == Some(name)
        })
        .and_then(|tag| tag.attribute("value"))
}

fn tag_with_id<'a>(tags: &'a [Tag], id: &str) -> &'a Tag {
    tags.iter()
        .find(|tag| tag.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element with id {id}"))
}

#[test]
fn account_page_says_who_and_offers_sign_out() {
    let html = pages().account(&account_view());
    assert!(html.contains("<title>Your account · Example ID</title>"));
    assert!(html.contains("<h1>Your account</h1>"));
    assert!(html.contains("Signed in as <strong>alice</strong>"));
    let form = form_tags(&html, "/logout");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert_eq!(hidden_value(&form, "csrf_token"), Some("csrf-account-321"));
    assert!(html.contains(">Sign out</button>"));
}

#[test]
fn every_account_form_posts_with_the_csrf_token() {
    let html = pages().account(&account_view());
    let mut count = 0;
    for action in [
        "/logout",
        "/account/api-keys",
        "/account/api-keys/delete",
        "/account/apps/revoke",
        "/account/password",
        "/account/sessions/sign-out-others",
        "/account/identities/unlink",
        "/upstream/discord/start",
    ] {
        for form in forms(&html, action) {
            count += 1;
            assert_eq!(form[0].name, "form", "{action}");
            assert_eq!(form[0].attribute("method"), Some("post"), "{action}");
            assert_eq!(
                hidden_value(&form, "csrf_token"),
                Some("csrf-account-321"),
                "{action}"
            );
        }
    }
    // Sign out, create, two deletes, two revokes, password, sign out everywhere else,
    // unlink one sign-in method, link the other.
    assert_eq!(count, 10);
    assert_eq!(html.matches("<form").count(), count);
}

#[test]
fn new_key_is_shown_once_in_a_labelled_read_only_field() {
    let pages = pages();
    let html = pages.account(&account_view());
    assert!(html.contains("Your new API key 'backup script'"));
    assert!(html.contains("Copy it now: it will not be shown again."));
    let tags = start_tags(&html);
    let field = tag_with_id(&tags, "new-api-key");
    assert_eq!(field.name, "input");
    assert_eq!(field.attribute("type"), Some("text"));
    assert_eq!(field.attribute("readonly"), Some(""));
    assert_eq!(
        field.attribute("value"),
        Some("kw_ak_0123456789abcdefABCDEF-_xyz")
    );
    assert!(field.attribute("name").is_none(), "it is never submitted");
    assert!(html.contains("<label for=\"new-api-key\">API key</label>"));
    // The box comes before the list, where the eye lands first.
    assert!(html.find("new-api-key").unwrap() < html.find("api-keys-heading").unwrap());

    let without = pages.account(&empty_account_view());
    assert!(!without.contains("new-api-key"));
    assert!(!without.contains("Your new API key"));
    assert!(!without.contains("will not be shown again"));
}

#[test]
fn api_keys_are_listed_with_their_details() {
    let html = pages().account(&account_view());
    assert!(html.contains("<h2 id=\"api-keys-heading\">API keys</h2>"));
    assert!(html.contains("<code>/oauth2/token</code>"));
    assert!(html.contains("short-lived access token"));
    assert!(html.contains("<h3>backup script</h3>"));
    assert!(html.contains("<dd><code>photos.read</code></dd>"));
    assert!(html.contains("<dd>2024-05-01 10:00 UTC</dd>"));
    assert!(html.contains("<dt>Last used</dt><dd>2024-05-02 08:30 UTC</dd>"));
    assert!(html.contains("<dt>Expires</dt><dd>2024-08-01 10:00 UTC</dd>"));
    assert!(html.contains("<h3>laptop</h3>"));
    assert!(html.contains("<dt>Scopes</dt><dd>none</dd>"));
    assert!(html.contains("<dt>Last used</dt><dd>never</dd>"));
    assert!(html.contains("<dt>Expires</dt><dd>never</dd>"));
    assert!(!html.contains("You have no API keys."));
}

#[test]
fn each_api_key_has_a_delete_form_that_names_it() {
    let html = pages().account(&account_view());
    let sources = form_sources(&html, "/account/api-keys/delete");
    let deleted: Vec<_> = sources
        .iter()
        .map(|source| {
            let tags = start_tags(source);
            (
                hidden_value(&tags, "id").map(str::to_owned),
                button_name(source),
            )
        })
        .collect();
    assert_eq!(
        deleted,
        [
            (
                Some("key-1".to_owned()),
                "Delete API key backup script".to_owned()
            ),
            (Some("key-2".to_owned()), "Delete API key laptop".to_owned()),
        ]
    );
    // Sighted users see only "Delete", next to the key's name.
    assert!(html.contains(
        "<button class=\"secondary\" type=\"submit\">Delete<span class=\"visually-hidden\"> API key laptop</span></button>"
    ));
}

#[test]
fn create_form_has_the_contract_fields() {
    let html = pages().account(&empty_account_view());
    let form = form_tags(&html, "/account/api-keys");
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "text", "name"));
    assert!(has_input(&form, "text", "scope"));
    let name = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("name"))
        .unwrap();
    assert_eq!(name.attribute("required"), Some(""));
    assert_eq!(name.attribute("maxlength"), Some("100"));
    let scope = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("scope"))
        .unwrap();
    assert!(scope.attribute("required").is_none(), "scopes are optional");
    let select = form
        .iter()
        .find(|tag| tag.name == "select")
        .expect("an expiry select");
    assert_eq!(select.attribute("name"), Some("expires_in"));
    let options: Vec<_> = form
        .iter()
        .filter(|tag| tag.name == "option")
        .map(|tag| tag.attribute("value").unwrap())
        .collect();
    assert_eq!(options, ["30d", "90d", ""]);
    assert!(html.contains("<option value=\"30d\">In 30 days</option>"));
    assert!(html.contains("<option value=\"\">Never</option>"));

    let label = |id: &str| {
        let tags = start_tags(&html);
        tag_with_id(&tags, id).attribute("name").map(str::to_owned)
    };
    assert!(html.contains("<label for=\"api-key-name\">Name</label>"));
    assert_eq!(label("api-key-name").as_deref(), Some("name"));
    assert!(html.contains("<label for=\"api-key-expires\">Expires</label>"));
    assert_eq!(label("api-key-expires").as_deref(), Some("expires_in"));
    assert!(
        html.contains("<label for=\"api-key-scope\">Scopes (optional, space-separated)</label>")
    );
    assert_eq!(label("api-key-scope").as_deref(), Some("scope"));
    assert!(html.contains("<button class=\"primary\" type=\"submit\">Create API key</button>"));
}

#[test]
fn authorized_apps_are_listed_with_a_revoke_form_that_names_them() {
    let html = pages().account(&account_view());
    assert!(html.contains("<h2 id=\"apps-heading\">Authorized apps</h2>"));
    assert!(html.contains("<h3>Photo Printer</h3>"));
    assert!(html.contains("<dd><code>photos.read profile</code></dd>"));
    assert!(html.contains("<dt>Allowed since</dt><dd>2024-03-01</dd>"));
    assert!(html.contains("<dt>Last used</dt><dd>2024-05-02</dd>"));
    assert!(html.contains("<h3>Calendar</h3>"));
    let revoked: Vec<_> = form_sources(&html, "/account/apps/revoke")
        .iter()
        .map(|source| {
            let tags = start_tags(source);
            (
                hidden_value(&tags, "grant_id").map(str::to_owned),
                button_name(source),
            )
        })
        .collect();
    assert_eq!(
        revoked,
        [
            (
                Some("grant-1".to_owned()),
                "Revoke access for Photo Printer".to_owned()
            ),
            (
                Some("grant-2".to_owned()),
                "Revoke access for Calendar".to_owned()
            ),
        ]
    );
    assert!(!html.contains("You have not authorized any apps."));
}

#[test]
fn empty_lists_say_so() {
    let html = pages().account(&empty_account_view());
    assert!(html.contains("<p class=\"muted\">You have no API keys.</p>"));
    assert!(html.contains("<p class=\"muted\">You have not authorized any apps.</p>"));
    assert!(
        !html.contains("class=\"items\""),
        "only the sessions' list is left"
    );
    assert!(form_sources(&html, "/account/api-keys/delete").is_empty());
    assert!(form_sources(&html, "/account/apps/revoke").is_empty());
    // Creating a key stays possible.
    assert_eq!(form_sources(&html, "/account/api-keys").len(), 1);
}

#[test]
fn message_is_a_status_and_error_an_alert() {
    let pages = pages();
    let html = pages.account(&account_view());
    assert!(html.contains("<p class=\"note\" role=\"status\">API key created.</p>"));
    assert!(!html.contains("role=\"alert\""));

    let failed = AccountView {
        error: Some("Give the key a name.".into()),
        message: None,
        ..empty_account_view()
    };
    let html = pages.account(&failed);
    let alert = html
        .find("<p class=\"alert\" role=\"alert\">Give the key a name.</p>")
        .expect("the error is an alert");
    assert!(alert < html.find("action=\"/account/api-keys\"").unwrap());
    assert!(!html.contains("role=\"status\""));
}

#[test]
fn account_escapes_hostile_names_keys_and_scopes() {
    let mut view = account_view();
    view.username = HOSTILE.into();
    view.message = Some(HOSTILE.into());
    view.error = Some(HOSTILE.into());
    if let Some(new_key) = view.new_key.as_mut() {
        new_key.name = HOSTILE.into();
        new_key.api_key = HOSTILE.into();
    }
    for key in &mut view.api_keys {
        key.name = HOSTILE.into();
        key.scope = HOSTILE.into();
        key.created = HOSTILE.into();
        key.last_used = Some(HOSTILE.into());
        key.expires = Some(HOSTILE.into());
    }
    for app in &mut view.apps {
        app.client_name = HOSTILE.into();
        app.scope = HOSTILE.into();
        app.since = HOSTILE.into();
        app.last_used = Some(HOSTILE.into());
    }
    view.expiry_choices[0].label = HOSTILE.into();
    let html = pages().account(&view);
    assert_ne!(html, FALLBACK_PAGE);
    assert!(!html.contains(HOSTILE), "{html}");
    let without_copy_script = html.replace(super::COPY_SCRIPT_TAG, "");
    assert!(
        !without_copy_script.to_ascii_lowercase().contains("<script"),
        "{html}"
    );
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
    assert!(html.contains(&format!("Signed in as <strong>{escaped}</strong>")));
    assert!(html.contains(&format!("Your new API key '{escaped}'")));
    assert!(html.contains(&format!("value=\"{escaped}\"")));
    assert!(html.contains(&format!("<h3>{escaped}</h3>")));
    assert!(html.contains(&format!("> API key {escaped}</span>")));
    assert!(html.contains(&format!("> for {escaped}</span>")));
    assert!(html.contains(&format!("<option value=\"30d\">{escaped}</option>")));
}

#[test]
fn hostile_values_cannot_add_attributes_to_the_account_page() {
    let breakout = r#"" onfocus="alert(1)" autofocus x=""#;
    let mut view = account_view();
    view.csrf_token = breakout.into();
    if let Some(new_key) = view.new_key.as_mut() {
        new_key.api_key = breakout.into();
    }
    for key in &mut view.api_keys {
        key.id = breakout.into();
        key.name = breakout.into();
    }
    for app in &mut view.apps {
        app.grant_id = breakout.into();
    }
    for choice in &mut view.expiry_choices {
        choice.value = breakout.into();
    }
    let html = pages().account(&view);
    for tag in start_tags(&html) {
        assert!(
            tag.attribute("onfocus").is_none() && tag.attribute("autofocus").is_none(),
            "{tag:?}"
        );
    }
}

#[test]
fn sections_come_in_the_order_a_person_scans_them() {
    let html = pages().account(&account_view());
    let at = |id: &str| {
        html.find(&format!("<h2 id=\"{id}\""))
            .unwrap_or_else(|| panic!("no section {id}"))
    };
    let order = [
        at("new-key-heading"),
        at("apps-heading"),
        at("password-heading"),
        at("sessions-heading"),
        at("api-keys-heading"),
    ];
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{order:?}");
}

#[test]
fn password_form_asks_for_the_current_and_the_new_password() {
    let html = pages().account(&empty_account_view());
    let form = form_tags(&html, "/account/password");
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "password", "current_password"));
    assert!(has_input(&form, "password", "new_password"));
    let field = |name: &str| {
        form.iter()
            .find(|tag| tag.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    assert_eq!(
        field("current_password").attribute("autocomplete"),
        Some("current-password")
    );
    assert_eq!(
        field("new_password").attribute("autocomplete"),
        Some("new-password")
    );
    assert_eq!(field("new_password").attribute("minlength"), Some("8"));
    assert_eq!(field("username").attribute("value"), Some("alice"));
    assert!(html.contains("<label for=\"current-password\">Current password</label>"));
    assert!(html.contains("<label for=\"new-password\">New password</label>"));
    assert!(html.contains("At least 8 characters."));
    assert!(html.contains("signs you out on every other browser and device"));
}

#[test]
fn sessions_are_listed_and_this_browser_is_named() {
    let html = pages().account(&account_view());
    assert!(html.contains("<h3>This browser</h3>"));
    assert!(html.contains("<h3>Another browser or device</h3>"));
    assert!(html.contains("<dt>Signed in</dt><dd>2024-05-01 09:00 UTC</dd>"));
    assert!(html.contains("<dt>Expires</dt><dd>2024-06-01 08:00 UTC</dd>"));
    let sources = form_sources(&html, "/account/sessions/sign-out-others");
    assert_eq!(sources.len(), 1);
    assert_eq!(button_name(sources[0]), "Sign out everywhere else");

    // Alone, there is nothing to sign out.
    let alone = pages().account(&empty_account_view());
    assert!(form_sources(&alone, "/account/sessions/sign-out-others").is_empty());
    assert!(alone.contains("You are not signed in anywhere else."));
}

#[test]
fn the_new_key_has_a_copy_button_that_only_its_script_reveals() {
    let html = pages().account(&account_view());
    let tags = start_tags(&html);
    let button = tags
        .iter()
        .find(|tag| tag.attribute("data-copy") == Some("new-api-key"))
        .expect("a copy button");
    assert_eq!(button.name, "button");
    assert_eq!(
        button.attribute("type"),
        Some("button"),
        "it submits nothing"
    );
    assert_eq!(
        button.attribute("hidden"),
        Some(""),
        "hidden without the script"
    );
    let scripts: Vec<_> = tags.iter().filter(|tag| tag.name == "script").collect();
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].attribute("src"), Some("/static/copy.js"));
    // Without the script the field still says what to do.
    assert!(html.contains("Select the text in the field and copy it"));

    let without = pages().account(&empty_account_view());
    assert!(!without.contains("<script"));
    assert!(!without.contains("data-copy"));
}

#[test]
fn api_keys_are_explained_in_plain_words_first() {
    let html = pages().account(&empty_account_view());
    let plain = html
        .find("lets a script or program of yours use your account without your password")
        .expect("the plain explanation");
    let details = html
        .find("<summary>How a program uses a key</summary>")
        .unwrap();
    assert!(plain < details);
    assert!(html.find("grant_type=refresh_token").unwrap() > details);
}

#[test]
fn sign_in_methods_offer_unlink_when_linked_and_link_when_not() {
    let html = pages().account(&account_view());
    let unlink = &html[html.find(r#"action="/account/identities/unlink""#).unwrap()..];
    let unlink = &unlink[..unlink.find("</form>").unwrap()];
    assert!(unlink.contains(r#"name="upstream" value="corp""#));
    assert!(unlink.contains(r#"name="csrf_token" value="csrf-account-321""#));
    let link = &html[html.find(r#"action="/upstream/discord/start""#).unwrap()..];
    let link = &link[..link.find("</form>").unwrap()];
    assert!(link.contains(r#"name="intent" value="link""#));
    assert!(link.contains(r#"name="csrf_token" value="csrf-account-321""#));
    assert!(!html.contains("/upstream/corp/start"));
    // Apps come first, then the ways to sign in, then the password.
    let apps = html.find(r#"id="apps""#).unwrap();
    let methods = html.find(r#"id="sign-in-methods""#).unwrap();
    let password = html.find(r#"id="password""#).unwrap();
    assert!(apps < methods && methods < password);
}

#[test]
fn a_user_without_a_password_is_offered_no_password_change() {
    let mut view = account_view();
    view.has_password = false;
    let html = pages().account(&view);
    assert!(!html.contains(r#"action="/account/password""#));
    assert!(html.contains("You sign in here through a linked account, not with a password."));
    view.sign_in_methods.clear();
    view.has_password = true;
    let html = pages().account(&view);
    assert!(!html.contains("sign-in-methods"));
    assert!(html.contains(r#"action="/account/password""#));
}
