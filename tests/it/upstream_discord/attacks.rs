//! Attacks on the callback: a forged or missing `state`, a callback opened in another
//! browser (login CSRF), a replayed callback with its flow cookie put back, a code delivered
//! to another upstream's callback (mix-up), a `return_to` that points off the server, and
//! the user pressing Cancel at Discord. Each ends on a 400 page with nobody signed in and
//! no code redeemed, or (`return_to`) on keyward's own account page.

use url::Url;

use super::discord::Mode;
use super::{
    add_upstream, assert_problem, assert_signed_in, assert_signed_out, begin, identities,
    press_continue, sign_in_page, with_param, world, World, FLOW_COOKIE, SUBJECT,
};
use crate::forms::{decode_entities, Browser};

#[test]
fn issue_12_discord_callback_with_a_tampered_state_or_in_another_browser_is_refused() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    let not_recognised = [
        "This sign-in was not recognised",
        "This sign-in through Discord was not started in this browser",
    ];
    let browser = Browser::new();
    let begun = begin(&browser, server, discord);
    let code = begun.callback_param("code");

    // Login CSRF: a callback with someone's code and state, opened in another browser.
    let victim = Browser::new();
    let page = victim.get(begun.callback.as_str());
    assert_problem(&page, 400, &not_recognised);
    assert_signed_out(&victim, server);

    // The right browser, a state it did not send.
    let state = begun.callback_param("state");
    let mut tampered = state.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let page = browser.get(&with_param(&begun.callback, "state", Some(&tampered)));
    assert_problem(&page, 400, &not_recognised);
    assert_signed_out(&browser, server);

    // And none at all.
    let browser = Browser::new();
    let without = begin(&browser, server, discord);
    let page = browser.get(&with_param(&without.callback, "state", None));
    assert_problem(&page, 400, &not_recognised);
    assert_signed_out(&browser, server);

    assert!(discord.token_requests().is_empty(), "no code was redeemed");
    assert!(discord.code_unused(&code));
    assert_eq!(data.user_count(), 0);
}

#[test]
fn issue_12_discord_replayed_callback_is_refused_even_with_the_flow_cookie_put_back() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    let browser = Browser::new();
    let login = sign_in_page(&browser, server, "/account");
    // The flow is bound to this browser's CSRF cookie: a replay from this browser has it.
    let csrf_cookie = login
        .set_cookies()
        .iter()
        .find_map(|cookie| cookie.strip_prefix("keyward_csrf="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .expect("the sign-in page sets the CSRF cookie");
    let begun = press_continue(&browser, &login, discord, "discord", &[]);
    let flow_cookie = begun.flow_cookie();
    let path = &begun.callback[url::Position::BeforePath..];

    // The flow cookie planted in another browser (one without this CSRF secret, or with
    // another): worth nothing there, and the flow in progress is left alone.
    for planted in [
        format!("{FLOW_COOKIE}={flow_cookie}"),
        format!(
            "{FLOW_COOKIE}={flow_cookie}; keyward_csrf={}",
            "x".repeat(43)
        ),
    ] {
        let page = crate::support::get_raw(server, path, &[("cookie", &planted)]);
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(
            decode_entities(&page.body).contains("This sign-in was not recognised"),
            "{}",
            page.body
        );
        assert!(
            page.headers.get("set-cookie").is_none(),
            "{:?}",
            page.headers
        );
    }
    assert_eq!(data.user_count(), 0);
    assert_signed_in(&browser.get(begun.callback.as_str()), "/account");
    assert_eq!(data.user_count(), 1);

    // The same browser again: its flow cookie went with the first callback.
    let again = browser.get(begun.callback.as_str());
    assert_problem(&again, 400, &["This sign-in was not recognised"]);

    // The cookie put back by hand: the flow is marked used on the server.
    let replayed = crate::support::get_raw(
        server,
        path,
        &[(
            "cookie",
            &format!("{FLOW_COOKIE}={flow_cookie}; keyward_csrf={csrf_cookie}"),
        )],
    );
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    let text = decode_entities(&replayed.body);
    for expected in [
        "This sign-in was used already",
        "This answer from Discord was used once already and does not work twice",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    assert!(
        replayed
            .headers
            .get_all("set-cookie")
            .iter()
            .all(|cookie| !cookie.to_str().unwrap().starts_with("keyward_session=")),
        "{:?}",
        replayed.headers
    );
    assert_eq!(
        discord.token_requests().len(),
        1,
        "the code went to Discord once"
    );
    assert_eq!(data.user_count(), 1);
    assert_eq!(
        identities(data, "nelly"),
        [("discord".to_owned(), SUBJECT.to_owned())]
    );
}

#[test]
fn issue_12_discord_code_delivered_to_another_upstreams_callback_is_refused() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    // Added while the server runs: another upstream at the same provider.
    add_upstream(
        data,
        "other",
        &[
            "--kind",
            "discord",
            "--display-name",
            "Other",
            "--base-url",
            &discord.base_url,
            "--client-id",
            "other-client",
            "--create-users",
        ],
        "other-secret",
    )
    .ok();
    let browser = Browser::new();
    let begun = begin(&browser, server, discord);
    let elsewhere = format!(
        "{}?{}",
        server.url("/upstream/other/callback"),
        begun.callback.query().unwrap()
    );
    let not_recognised = [
        "This sign-in was not recognised",
        "This sign-in through Other was not started in this browser",
    ];
    let page = browser.get(&elsewhere);
    assert_problem(&page, 400, &not_recognised);

    // Even while this browser has a flow of its own there: its state is another.
    let login = sign_in_page(&browser, server, "/account");
    let form = login.require_form("/upstream/other/start");
    let started = browser.submit(&login, &form, &form.filled(&[]));
    assert_eq!(started.status, 303, "{}", started.describe());
    assert!(started
        .set_cookies()
        .iter()
        .any(|cookie| cookie.starts_with(&format!("{FLOW_COOKIE}="))
            && cookie.contains("Path=/upstream/other")));
    let page = browser.get(&elsewhere);
    assert_problem(&page, 400, &not_recognised);
    assert_signed_out(&browser, server);
    assert!(discord.token_requests().is_empty(), "no code was redeemed");
    assert_eq!(data.user_count(), 0);

    // The code still works where it was meant to go, and links nothing at `other`.
    assert_signed_in(&browser.get(begun.callback.as_str()), "/account");
    assert_eq!(
        identities(data, "nelly"),
        [("discord".to_owned(), SUBJECT.to_owned())]
    );
}

#[test]
fn issue_12_discord_return_to_cannot_send_the_browser_off_site() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
    ] {
        // The sign-in page does not carry it into its forms...
        let browser = Browser::new();
        let login = sign_in_page(&browser, server, evil);
        let form = login.require_form("/upstream/discord/start");
        assert_eq!(form.require("return_to"), "/account", "{evil:?}");
        // ...and a form that does, by hand, ends at the account page all the same.
        let begun = press_continue(&browser, &login, discord, "discord", &[("return_to", evil)]);
        let finished = browser.get(begun.callback.as_str());
        assert_signed_in(&finished, "/account");
        let landed = browser.follow(finished);
        assert_eq!(landed.status, 200, "{evil:?}: {}", landed.describe());
        assert_eq!(landed.url.path(), "/account");
        assert_eq!(
            landed.url.origin(),
            Url::parse(&server.base_url).unwrap().origin()
        );
    }
    assert_eq!(data.user_count(), 1);
}

#[test]
fn issue_12_discord_cancel_at_discord_is_a_400_page_naming_access_denied() {
    let World {
        server,
        discord,
        data,
        ..
    } = &world(&["--create-users"]);
    discord.set_mode(Mode::UserCancels);
    let browser = Browser::new();
    let begun = begin(&browser, server, discord);
    assert_eq!(begun.callback_param("error"), "access_denied");
    let page = browser.get(begun.callback.as_str());
    assert_problem(
        &page,
        400,
        &[
            "You were not signed in",
            "Discord did not sign you in (it answered 'access_denied')",
            "Nothing was changed",
        ],
    );
    // An error code written to be markup is shown as text.
    let begun = begin(&browser, server, discord);
    let page = browser.get(&with_param(
        &begun.callback,
        "error",
        Some("<script>alert(1)</script>"),
    ));
    assert_eq!(page.status, 400, "{}", page.describe());
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        decode_entities(&page.body).contains("(it answered '<script>alert(1)</script>')"),
        "{}",
        page.body
    );
    // Sent back with neither a code nor an error.
    discord.set_mode(Mode::Normal);
    let begun = begin(&browser, server, discord);
    let page = browser.get(&with_param(&begun.callback, "code", None));
    assert_problem(
        &page,
        400,
        &[
            "This sign-in was incomplete",
            "Discord sent you back without a sign-in",
        ],
    );
    assert!(discord.code_unused(&begun.callback_param("code")));
    assert!(discord.token_requests().is_empty());
    assert_eq!(data.user_count(), 0);
    assert_signed_out(&browser, server);
}
