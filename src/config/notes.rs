//! What each configuration key means, as `config.toml` says it above the key: the notes of
//! the printed template (see `template`). Default values are never written here.

/// What each key means, by `section.key` (or `section` for a note above its header, `""` for
/// the note atop the file). Keys without a note are printed bare.
pub(super) const NOTES: &[(&str, &str)] = &[
    (
        "",
        "Courier configuration. Every key below shows its default; uncomment to change it. \
         Any key can also be set from the environment as COURIER__SECTION__KEY, which wins \
         over this file, e.g. COURIER__SERVER__BIND=0.0.0.0:8080 or \
         COURIER__DATABASE__URL=postgres://... The server refuses to start on an invalid or \
         dangerous combination and says why.",
    ),
    (
        "server.data_dir",
        "Folder for the SQLite file and the generated secrets.",
    ),
    (
        "server.json_limit_bytes",
        "Largest JSON body, in bytes (larger: 413).",
    ),
    (
        "server.trust_forwarded_for",
        "Take the client address from X-Forwarded-For (only behind a proxy you trust).",
    ),
    (
        "server.workers",
        "HTTP worker threads; 0 means one per core.",
    ),
    (
        "server.engine_threads",
        "Threads that run chat rooms and calls (0: one per core). A chat always runs on the \
         same one.",
    ),
    (
        "server.shutdown_timeout_secs",
        "Seconds in-flight requests and the writer's last batch get to finish on \
         SIGINT/SIGTERM (open WebSockets are closed at once, 1001, without waiting for this).",
    ),
    (
        "server.header_timeout_ms",
        "A request's headers must arrive within this many ms of the connection (else 408, \
         closed).",
    ),
    (
        "server.body_timeout_ms",
        "A JSON body must arrive within this many ms of its headers (else 408 \
         request_timeout).",
    ),
    (
        "server.request_timeout_ms",
        "An API request (not an upload, not /ws) is answered within this many ms (else 503).",
    ),
    (
        "server.keep_alive_secs",
        "Seconds an idle keep-alive connection stays open (0: one request per connection).",
    ),
    (
        "server.max_connections_per_ip",
        "Connections (HTTP and WebSocket) one client address may hold at once; more get 429 \
         too_many_connections and are closed. Counts TCP peers: behind a proxy, raise it or \
         set 0 (off).",
    ),
    (
        "server.tls_cert",
        "PEM certificate chain and private key: with both set, the server speaks HTTPS and \
         WSS only, TLS 1.3 only (behind a TLS-terminating proxy, leave them empty).",
    ),
    (
        "database.url",
        "sqlite://<file> runs with nothing installed; postgres://user:pass@host/db for \
         production.",
    ),
    (
        "database.timeout_ms",
        "Longest wait for the database, in ms: a connection, a statement (PostgreSQL \
         statement_timeout), a lock (SQLite busy_timeout), a write batch. Past it: 503 \
         unavailable.",
    ),
    (
        "auth.jwt_secret",
        "Token signing key. Empty: generated on first start into <data_dir>/jwt_secret. \
         Several nodes must share one explicit value (at least 32 characters).",
    ),
    (
        "auth.phone_hash_key",
        "Key of the phone-number hash. Empty: generated into <data_dir>/phone_hash_key.",
    ),
    (
        "auth.fixed_otp",
        "Tests and demos only: every code is this value. Refused with a real SMS provider.",
    ),
    (
        "sms.provider",
        "\"console\" writes codes to the log; \"twilio\" sends real SMS.",
    ),
    (
        "sms.twilio_from",
        "Sender number (E.164) or a messaging service SID (MG...).",
    ),
    (
        "limits.otp_per_phone_per_minute",
        "send-otp and verify-otp, each, per minute.",
    ),
    (
        "limits.refresh_per_minute",
        "Token refreshes per minute, per device session and per client address.",
    ),
    (
        "limits.max_group_size",
        "Most members a group may have, its creator included.",
    ),
    (
        "limits.groups_per_hour",
        "Groups a user may create per hour.",
    ),
    (
        "limits.group_adds_per_hour",
        "Users a user may add to groups or invite to them per hour, at creation and later.",
    ),
    (
        "limits.group_invite_ttl_secs",
        "A group invite expires if not accepted within this many seconds.",
    ),
    (
        "limits.exports_per_day",
        "Data exports (POST /api/user/export) a user may start per day.",
    ),
    (
        "limits.profile_lookups_per_minute",
        "Profiles (GET /api/users/{id}) a user may look up per minute.",
    ),
    (
        "realtime.outbound_queue",
        "Events queued for one slow socket before it is disconnected.",
    ),
    (
        "realtime.typing_interval_secs",
        "At most one typing event per typist and chat in this many seconds.",
    ),
    (
        "realtime.max_frames_in_flight",
        "Frames of one socket read and not yet answered; the socket is not read beyond this.",
    ),
    (
        "realtime.max_sockets_per_user",
        "Open sockets per user; one more is refused with 429 too_many_sockets.",
    ),
    (
        "realtime.connects_per_minute",
        "WebSocket connects per user per minute (a sixth of it in any ten seconds); more are \
         refused with 429 rate_limited.",
    ),
    (
        "realtime.max_presence_watch",
        "Users one socket may watch the presence of (presence-subscribe).",
    ),
    (
        "realtime.frames_per_minute",
        "Frames each user may send per minute over all their sockets together, by kind (a \
         quarter of it at once); reconnecting gives no fresh allowance. Beyond: an error \
         frame rate_limited. Past `refused` refusals a minute, the socket refused next is \
         closed (4029). send-message is limited per user instead: limits.messages_per_minute.",
    ),
    (
        "realtime.frames_per_minute.call",
        "call-initiate, call-ringing, call-answer, call-decline and call-end together.",
    ),
    (
        "realtime.frames_per_minute.presence",
        "presence-subscribe and presence-unsubscribe together.",
    ),
    (
        "calls.ring_timeout_secs",
        "An unanswered call is missed after this many seconds.",
    ),
    (
        "calls.disconnect_grace_secs",
        "A call ends this many seconds after a participant's last device disconnected.",
    ),
    (
        "calls.max_signal_bytes",
        "Largest call-signal payload (SDP, ICE candidate), in bytes of JSON.",
    ),
    (
        "calls.stun_urls",
        "STUN servers handed to clients by GET /api/calls/ice-servers, e.g. \
         [\"stun:stun.example.org:3478\"].",
    ),
    (
        "calls.turn_urls",
        "TURN servers handed to clients, e.g. [\"turn:turn.example.org:3478?transport=udp\"].",
    ),
    (
        "calls.turn_secret",
        "The TURN server's REST-API shared secret (coturn: static-auth-secret); required with \
         turn_urls.",
    ),
    (
        "media.store",
        "\"local\" keeps files in a folder; \"s3\" uses any S3-compatible store.",
    ),
    (
        "media.dir",
        "Folder for \"local\" (empty: <data_dir>/media). It must be writable: the server \
         checks at start.",
    ),
    (
        "media.public_url",
        "Prefix of media links, e.g. \"https://chat.example.org\" (empty: links are relative, \
         \"/media/...\").",
    ),
    (
        "media.url_ttl_secs",
        "How long a media link works, in seconds.",
    ),
    (
        "media.s3_endpoint",
        "For S3-compatible servers other than AWS, e.g. \"http://127.0.0.1:9000\".",
    ),
    (
        "media.s3_access_key_id",
        "Key id and secret both empty: credentials from the AWS_* environment (keys, web \
         identity), then the container's or the instance's IAM role.",
    ),
    ("media.s3_session_token", "With temporary keys (from STS)."),
    (
        "media.s3_presign",
        "Media links redirect to short-lived URLs presigned for the store (clients fetch the \
         bytes there); false: Courier serves the files.",
    ),
    (
        "media.s3_sse",
        "S3 server-side encryption of every object: \"\" (the bucket's default), \"sse-s3\" \
         or \"sse-kms\" (with s3_sse_kms_key_id, or the account's default key).",
    ),
    (
        "media.encryption_key",
        "The local store only: 32 bytes, base64 (openssl rand -base64 32). Every file stored \
         from then on is sealed with AES-256-GCM; a copied media folder is unreadable without \
         it.",
    ),
    (
        "media.max_image_bytes",
        "Upload limits, in bytes, checked while the upload streams in.",
    ),
    (
        "media.orphan_grace_secs",
        "Stored files no row refers to (left by an upload cut off before its message, status \
         or photo was saved) are removed once this old, in seconds (at least 300: longer than \
         any upload takes).",
    ),
    (
        "media.orphan_sweep_secs",
        "How often such files are looked for, in seconds (at least 60).",
    ),
    (
        "media.upload_timeout_ms",
        "An upload's whole body must arrive within this many ms (else 408, nothing stored).",
    ),
    (
        "metrics.bind",
        "Where GET /metrics (Prometheus / OpenMetrics text) is served, on a listener of its \
         own. Loopback by default; empty: no metrics listener.",
    ),
    (
        "log.format",
        "\"text\" for people, \"json\" (one object per line) for log shippers. RUST_LOG sets \
         the levels.",
    ),
    (
        "cluster",
        "Several nodes as one (see \"Running several nodes\" in the README). Off while \
         redis_url is empty. Cluster mode needs PostgreSQL, media.store = \"s3\", and \
         explicit auth.jwt_secret, auth.phone_hash_key (and pusher.app_secret when the Pusher \
         protocol is on), shared by every node; the server refuses to start otherwise.",
    ),
    (
        "cluster.redis_url",
        "Turns cluster mode on, e.g. \"redis://10.0.0.5:6379/0\".",
    ),
    (
        "cluster.node_id",
        "This node's name; empty: a random one at each start.",
    ),
    (
        "cluster.key_prefix",
        "Prefix of every Redis key and channel.",
    ),
    ("cluster.node_ttl_ms", "A node silent this long is dead."),
    (
        "cluster.forward_timeout_ms",
        "Longest wait for another node's answer.",
    ),
    (
        "pusher",
        "The Pusher Channels protocol (pusher-js, Laravel Echo) at /app/{app_key}, with \
         channel authorization at POST /broadcasting/auth. See docs/pusher.md.",
    ),
    ("pusher.app_key", "Empty: the Pusher protocol is off."),
    (
        "pusher.app_secret",
        "Signs channel authorizations. Empty: generated into <data_dir>/pusher_app_secret; \
         several nodes must share one explicit value (at least 16 characters).",
    ),
    (
        "pusher.activity_timeout_secs",
        "A socket silent this long is pinged (sent to clients as activity_timeout).",
    ),
    (
        "pusher.pong_timeout_secs",
        "A pinged socket that does not answer within this is closed (4201).",
    ),
    (
        "pusher.client_events_per_minute",
        "client-… events per socket per minute (a quarter at once); beyond: error 4301.",
    ),
    (
        "pusher.frames_per_minute",
        "Frames of any kind per socket per minute; beyond: error 4100 and closed.",
    ),
    (
        "pusher.max_event_bytes",
        "Largest client event data, in bytes of JSON.",
    ),
    (
        "pusher.connects_per_ip_per_minute",
        "Upgrades per client address per minute (a sixth of it in any ten seconds); beyond: \
         429.",
    ),
    (
        "moderation",
        "Reports and moderation. See \"Moderation\" in the README.",
    ),
    (
        "moderation.admins",
        "Phone numbers (E.164) of system admins, besides those granted with `courier admin \
         grant`.",
    ),
    (
        "moderation.blocked_patterns",
        "Content filter: words (matched as whole words) or regular expressions, \
         case-insensitive. An invalid pattern stops the server at start.",
    ),
    (
        "moderation.filter_action",
        "\"refuse\": a matching message gets 422 content_blocked and nothing is stored; \
         \"flag\": it is stored and delivered, and the system files a report for the admins.",
    ),
    (
        "moderation.reports_per_hour",
        "Reports one user may file per hour.",
    ),
    (
        "moderation.auto_suspend_reports",
        "Suspend a user reported by this many distinct users within the window (0: never).",
    ),
    (
        "moderation.auto_suspend_strangers",
        "Suspend a user who writes first to this many strangers (users of private chats who \
         never answered and do not have them in their contacts) within the window (0: never).",
    ),
    (
        "privacy",
        "Account deletion, the purge of deleted messages, the chat list. See \"Privacy\" in \
         the README.",
    ),
    (
        "privacy.account_purge_after_days",
        "A deleted account's messages, files, statuses, contacts and phone number are purged \
         this many days after the deletion (0 to 30).",
    ),
    (
        "privacy.message_purge_after_days",
        "The marker a message deleted for everyone leaves is purged this many days after (0 \
         to 30); its content and files go at once.",
    ),
    (
        "privacy.purge_every_secs",
        "How often the purge runs (60 to 86400 s; 0: never on this node, another one runs \
         it).",
    ),
    (
        "privacy.expire_every_secs",
        "How often messages whose disappearing timer ran out are purged (1 to 3600 s; 0: \
         never on this node).",
    ),
    (
        "privacy.max_pinned_chats",
        "Chats one user may pin at once (1 to 100).",
    ),
    (
        "push",
        "Push notifications for devices whose app is asleep. See \"Push notifications\" in \
         the README.",
    ),
    (
        "push.poll_ms",
        "How often the dispatcher looks for pushes (50 to 60000 ms; 0: never on this node).",
    ),
    (
        "push.previews",
        "Show the sender and the text in notifications (off: ids and a neutral line only).",
    ),
    (
        "push.max_attempts",
        "Tries per push, the first wait after a failure (doubling), one request's time limit.",
    ),
    (
        "push.fcm.credentials_file",
        "The service account's JSON key file (empty: FCM is off).",
    ),
    (
        "push.apns.key_file",
        "The .p8 signing key (empty: APNs is off), its key id, the team id and the app's \
         bundle id.",
    ),
    (
        "push.webpush.vapid_private_key",
        "The VAPID private key, 32 bytes base64url (empty: Web Push is off), and a contact \
         (subject), e.g. \"mailto:ops@example.com\".",
    ),
    (
        "push.webhook.url",
        "Your own push relay (empty: off) and the secret each request is signed with.",
    ),
    (
        "web",
        "The embedded web client (see \"Web client\" in the README): the page at /, its files \
         under /web/. It uses only the public REST API and /ws.",
    ),
    (
        "web.enabled",
        "false: / and /web/... answer 404 like any unknown path.",
    ),
];
