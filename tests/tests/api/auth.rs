//! Logging in, refreshing, logging out, API clients, and the tokens the server refuses.

use serde_json::json;
use taccuino_tests::{DEMO_PASSWORD, demo, fixtures::Demo, story};

story!(
    every_demo_user_logs_in_and_sees_who_they_are,
    |app| async move {
        let cast = [
            (demo::ADMIN, "admin", demo::MUNICIPALITY, "municipality"),
            (
                demo::SOCIAL_WORKER,
                "social_worker",
                demo::MUNICIPALITY,
                "municipality",
            ),
            (
                demo::ADMINISTRATIVE,
                "administrative",
                demo::MUNICIPALITY,
                "municipality",
            ),
            (
                demo::COORDINATOR,
                "provider_coordinator",
                demo::GIRASOLE,
                "provider",
            ),
            (demo::OPERATOR, "field_operator", demo::GIRASOLE, "provider"),
            (
                demo::ARCOBALENO_COORDINATOR,
                "provider_coordinator",
                demo::ARCOBALENO,
                "provider",
            ),
            (
                demo::ARCOBALENO_OPERATOR,
                "field_operator",
                demo::ARCOBALENO,
                "provider",
            ),
            (
                demo::GIRASOLE_ADMINISTRATIVE,
                "administrative",
                demo::GIRASOLE,
                "provider",
            ),
        ];
        for (email, role, organization, kind) in cast {
            let login = app.try_login(email, DEMO_PASSWORD).await.expect(200);
            assert_eq!(login.body["token_type"], "Bearer", "{login}");
            assert!(
                login.body["expires_in"].as_u64().is_some_and(|s| s > 0),
                "{login}"
            );
            assert!(login.body["refresh_token"].is_string(), "{login}");

            let me = app
                .session(login.str("access_token"))
                .get("/me")
                .await
                .expect(200);
            assert_eq!(me.body["email"], email, "{me}");
            assert_eq!(me.body["role"], role, "{me}");
            assert_eq!(me.body["organization"]["name"], organization, "{me}");
            assert_eq!(me.body["organization"]["kind"], kind, "{me}");
            assert!(
                me.body["id"].is_string() && me.body["given_name"].is_string(),
                "{me}"
            );
        }
    }
);

story!(
    a_wrong_password_is_refused_like_an_unknown_user,
    |app| async move {
        let wrong = app.try_login(demo::SOCIAL_WORKER, "not-the-password").await;
        wrong.expect_problem(401, "unauthorized");
        let unknown = app.try_login("nessuno@example.org", DEMO_PASSWORD).await;
        let unknown = unknown.expect_problem(401, "unauthorized");
        assert!(unknown.body.get("access_token").is_none());
    }
);

story!(
    a_refresh_token_works_once_and_a_replay_revokes_the_login,
    |app| async move {
        let session = app.login(demo::SOCIAL_WORKER).await;
        let first = session.refresh_token.clone().expect("a refresh token");

        let rotated = app
            .post("/auth/refresh", json!({"refresh_token": first}))
            .await
            .expect(200);
        let second = rotated.str("refresh_token");
        assert_ne!(second, first, "the refresh token rotates");
        app.session(rotated.str("access_token"))
            .get("/me")
            .await
            .expect(200);

        // Someone replays the spent token: it fails, and the whole login is revoked with it.
        app.post("/auth/refresh", json!({"refresh_token": first}))
            .await
            .expect_problem(401, "unauthorized");
        app.post("/auth/refresh", json!({"refresh_token": second}))
            .await
            .expect_problem(401, "unauthorized");
    }
);

story!(logging_out_spends_the_refresh_token, |app| async move {
    let session = app.login(demo::OPERATOR).await;
    let refresh_token = session.refresh_token.clone().expect("a refresh token");
    let logout = app
        .post("/auth/logout", json!({"refresh_token": refresh_token}))
        .await;
    assert_eq!(logout.expect(204).body, serde_json::Value::Null);
    app.post("/auth/refresh", json!({"refresh_token": refresh_token}))
        .await
        .expect_problem(401, "unauthorized");
});

story!(
    a_providers_system_sees_exactly_what_its_coordinator_sees,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let admin = app.login(demo::ADMIN).await;

        let created = admin
            .post(
                "/api-clients",
                json!({"organization_id": demo.girasole_id, "name": "Gestionale Il Girasole"}),
            )
            .await
            .expect(201);
        let (client_id, secret) = (created.str("client_id"), created.str("client_secret"));
        let shown_again = admin
            .get(&format!("/api-clients/{}", created.id()))
            .await
            .expect(200);
        assert!(
            shown_again.body.get("client_secret").is_none(),
            "the secret is shown once: {shown_again}"
        );

        let token = app
            .post_form(
                "/auth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                ],
            )
            .await
            .expect(200);
        assert_eq!(token.body["token_type"], "Bearer", "{token}");
        assert!(
            token.body["expires_in"].as_u64().is_some_and(|s| s > 0),
            "{token}"
        );
        let system = app.session(token.str("access_token"));

        let seen = system.list_all("/care-plans").await;
        assert!(!seen.is_empty(), "Il Girasole delivers some plans");
        assert!(
            seen.iter()
                .all(|plan| plan["provider_id"] == demo.girasole_id.as_str()),
            "the client sees only Il Girasole's plans"
        );
        let coordinator = app.login(demo::COORDINATOR).await;
        let ids = |plans: &[serde_json::Value]| {
            let mut ids: Vec<String> = plans.iter().map(|p| p["id"].to_string()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&seen), ids(&coordinator.list_all("/care-plans").await));

        let wrong = app
            .post_form(
                "/auth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client_id),
                    ("client_secret", "not-the-secret"),
                ],
            )
            .await;
        wrong.expect_problem(401, "unauthorized");
    }
);

story!(
    requests_without_a_valid_token_are_refused,
    |app| async move {
        let anonymous = app
            .get("/care-plans")
            .await
            .expect_problem(401, "unauthorized");
        assert!(
            anonymous.header("www-authenticate").is_some(),
            "{anonymous}"
        );
        app.session("garbage")
            .get("/care-plans")
            .await
            .expect_problem(401, "unauthorized");

        // A real token with one character of its payload changed no longer verifies.
        let token = app.login(demo::SOCIAL_WORKER).await.token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let middle = parts[1].len() / 2;
        let flipped = if &parts[1][middle..=middle] == "A" {
            "B"
        } else {
            "A"
        };
        parts[1].replace_range(middle..=middle, flipped);
        app.session(parts.join("."))
            .get("/care-plans")
            .await
            .expect_problem(401, "unauthorized");
    }
);

const TEST_SECRET: &str = "a-test-only-jwt-secret-0123456789-abcdef";

story!(
    an_expired_token_is_refused,
    env = [("TACCUINO_JWT_SECRET", TEST_SECRET)],
    |app| async move {
        use base64::Engine as _;
        let token = app.login(demo::SOCIAL_WORKER).await.token;
        app.session(token.clone()).get("/me").await.expect(200);

        // The same claims, signed with the same key, but expired a minute ago (beyond any leeway).
        let (header, payload) = {
            let mut parts = token.split('.');
            (
                parts.next().expect("header"),
                parts.next().expect("payload"),
            )
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(payload).expect("base64 payload")).expect("claims");
        let now = chrono::Utc::now().timestamp();
        claims["iat"] = json!(now - 3600);
        claims["exp"] = json!(now - 60);
        let header: jsonwebtoken::Header =
            serde_json::from_slice(&b64.decode(header).expect("base64 header")).expect("header");
        let key = jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes());
        let expired = jsonwebtoken::encode(&header, &claims, &key).expect("signed");

        app.session(expired)
            .get("/me")
            .await
            .expect_problem(401, "unauthorized");
    }
);

story!(
    repeated_login_attempts_are_slowed_down,
    env = [("TACCUINO_LOGIN_ATTEMPTS_PER_MINUTE", "3")],
    |app| async move {
        for _ in 0..3 {
            app.try_login(demo::SOCIAL_WORKER, "guess")
                .await
                .expect(401);
        }
        let limited = app.try_login(demo::SOCIAL_WORKER, "guess").await;
        let limited = limited.expect_problem(429, "rate-limited");
        let retry_after: u64 = limited
            .header("retry-after")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After in seconds: {limited}"));
        assert!((1..=60).contains(&retry_after), "{limited}");

        // Even the right password waits, while another account is unaffected.
        app.try_login(demo::SOCIAL_WORKER, DEMO_PASSWORD)
            .await
            .expect(429);
        app.try_login(demo::COORDINATOR, DEMO_PASSWORD)
            .await
            .expect(200);
    }
);

story!(
    passwords_and_tokens_are_stored_only_as_hashes,
    |app| async move {
        let demo = Demo::discover(&app).await;
        let session = app.login(demo::SOCIAL_WORKER).await;
        let refresh_token = session.refresh_token.clone().expect("a refresh token");
        let stored = app.strings("SELECT token_hash FROM refresh_tokens").await;
        assert!(!stored.is_empty(), "refresh tokens are stored");
        assert!(stored.iter().all(|hash| !hash.contains(&refresh_token)));

        let passwords = app
            .strings("SELECT password_hash FROM users WHERE email = 'assistente@example.org'")
            .await;
        assert!(
            passwords[0].starts_with("$argon2id$"),
            "argon2id, got {}",
            passwords[0]
        );

        let admin = app.login(demo::ADMIN).await;
        let client = admin
            .post(
                "/api-clients",
                json!({"organization_id": demo.girasole_id, "name": "Gestionale"}),
            )
            .await
            .expect(201);
        let secret = client.str("client_secret");
        let stored = app.strings("SELECT secret_hash FROM api_clients").await;
        assert!(stored.iter().all(|hash| !hash.contains(&secret)));
    }
);
