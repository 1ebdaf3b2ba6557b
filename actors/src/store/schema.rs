//! Diesel table definitions shared by the SQLite and PostgreSQL backends.
//!
//! Only types both backends accept are used here (BigInt, Integer, Text, Bool, Double,
//! Timestamp, Nullable); the migrations in `migrations/sqlite` and `migrations/postgres`
//! create matching tables.

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        phone_number -> Text,
        phone_hash -> Text,
        country_code -> Text,
        name -> Text,
        avatar_url -> Nullable<Text>,
        about -> Text,
        last_seen_at -> Nullable<Timestamp>,
        is_online -> Bool,
        privacy_last_seen -> Text,
        privacy_profile_photo -> Text,
        privacy_about -> Text,
        phone_verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        privacy_groups -> Text,
        suspended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    otp_codes (id) {
        id -> BigInt,
        phone_hash -> Text,
        country_code -> Text,
        code_hash -> Text,
        attempts -> Integer,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        refresh_jti -> Text,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    chats (id) {
        id -> BigInt,
        chat_type -> Text,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        private_key -> Nullable<Text>,
        last_message_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        disappearing_secs -> Nullable<BigInt>,
    }
}

diesel::table! {
    chat_participants (id) {
        id -> BigInt,
        chat_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        joined_at -> Timestamp,
        left_at -> Nullable<Timestamp>,
        last_visible_message_id -> Nullable<BigInt>,
        muted_until -> Nullable<Timestamp>,
        last_delivered_message_id -> BigInt,
        last_delivered_at -> Nullable<Timestamp>,
        last_read_message_id -> BigInt,
        last_read_at -> Nullable<Timestamp>,
        archived_at -> Nullable<Timestamp>,
        pinned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        chat_id -> BigInt,
        sender_id -> BigInt,
        client_msg_id -> Nullable<Text>,
        reply_to_message_id -> Nullable<BigInt>,
        message_type -> Text,
        content -> Nullable<Text>,
        media_url -> Nullable<Text>,
        media_size -> Nullable<BigInt>,
        media_duration -> Nullable<Integer>,
        media_mime_type -> Nullable<Text>,
        file_name -> Nullable<Text>,
        thumbnail_url -> Nullable<Text>,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        location_name -> Nullable<Text>,
        contact_data -> Nullable<Text>,
        system_data -> Nullable<Text>,
        seq -> BigInt,
        sent_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        forward_count -> Integer,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_stars (user_id, message_id) {
        user_id -> BigInt,
        message_id -> BigInt,
        starred_at -> Timestamp,
    }
}

diesel::table! {
    push_targets (id) {
        id -> BigInt,
        user_id -> BigInt,
        auth_session_id -> BigInt,
        platform -> Text,
        token -> Text,
        p256dh -> Nullable<Text>,
        auth -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    push_outbox (id) {
        id -> BigInt,
        target_id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        chat_id -> BigInt,
        message_id -> Nullable<BigInt>,
        call_id -> Nullable<BigInt>,
        priority -> Text,
        expires_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    data_exports (id) {
        id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        object_key -> Nullable<Text>,
        size -> Nullable<BigInt>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_hides (message_id, user_id) {
        message_id -> BigInt,
        user_id -> BigInt,
        seq -> BigInt,
        hidden_at -> Timestamp,
    }
}

diesel::table! {
    message_reactions (id) {
        id -> BigInt,
        message_id -> BigInt,
        user_id -> BigInt,
        emoji -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    receipt_events (id) {
        id -> BigInt,
        chat_id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        up_to_message_id -> BigInt,
        seq -> BigInt,
        at -> Timestamp,
    }
}

diesel::table! {
    statuses (id) {
        id -> BigInt,
        user_id -> BigInt,
        content_type -> Text,
        content -> Nullable<Text>,
        media_url -> Nullable<Text>,
        background_color -> Nullable<Text>,
        font_style -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    status_views (id) {
        id -> BigInt,
        status_id -> BigInt,
        viewer_id -> BigInt,
        viewed_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        user_id -> BigInt,
        contact_user_id -> BigInt,
        contact_name -> Text,
        is_contact -> Bool,
        is_blocked -> Bool,
        added_at -> Timestamp,
    }
}

diesel::table! {
    calls (id) {
        id -> BigInt,
        chat_id -> BigInt,
        caller_id -> BigInt,
        call_type -> Text,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        duration -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_invites (id) {
        id -> BigInt,
        chat_id -> BigInt,
        user_id -> BigInt,
        invited_by -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        reporter_id -> Nullable<BigInt>,
        target_type -> Text,
        target_id -> BigInt,
        reported_user_id -> Nullable<BigInt>,
        chat_id -> Nullable<BigInt>,
        message_id -> Nullable<BigInt>,
        reason -> Text,
        note -> Nullable<Text>,
        message_type -> Nullable<Text>,
        message_content -> Nullable<Text>,
        message_media_url -> Nullable<Text>,
        message_sent_at -> Nullable<Timestamp>,
        status -> Text,
        resolved_by -> Nullable<BigInt>,
        resolution_note -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    system_admins (user_id) {
        user_id -> BigInt,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        admin_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Text,
        target_id -> BigInt,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    former_members (chat_id, user_id) {
        chat_id -> BigInt,
        user_id -> BigInt,
        left_at -> Timestamp,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        members -> Text,
    }
}

diesel::table! {
    message_edits (id) {
        id -> BigInt,
        message_id -> BigInt,
        content -> Nullable<Text>,
        edited_at -> Nullable<Timestamp>,
        replaced_at -> Timestamp,
    }
}

diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(chat_participants -> chats (chat_id));
diesel::joinable!(chat_participants -> users (user_id));
diesel::joinable!(messages -> chats (chat_id));
diesel::joinable!(messages -> users (sender_id));
diesel::joinable!(message_reactions -> messages (message_id));
diesel::joinable!(message_reactions -> users (user_id));
diesel::joinable!(statuses -> users (user_id));
diesel::joinable!(calls -> chats (chat_id));
diesel::joinable!(group_invites -> chats (chat_id));
diesel::joinable!(former_members -> chats (chat_id));
diesel::joinable!(message_edits -> messages (message_id));
diesel::joinable!(message_stars -> messages (message_id));
diesel::joinable!(push_outbox -> push_targets (target_id));

diesel::allow_tables_to_appear_in_same_query!(
    counters,
    users,
    otp_codes,
    auth_sessions,
    chats,
    chat_participants,
    messages,
    message_hides,
    message_reactions,
    receipt_events,
    statuses,
    status_views,
    contacts,
    calls,
    group_invites,
    reports,
    system_admins,
    audit_log,
    former_members,
    message_edits,
    message_stars,
    push_targets,
    push_outbox,
    data_exports
);
