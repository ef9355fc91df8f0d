//! The one hand-written diesel schema for both backends (see the migrations).

diesel::table! {
    departments (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<BigInt>,
        is_dx_office -> Bool,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        department_id -> BigInt,
        locale -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        mail_opt_out -> Text,
        auth_source -> Text,
    }
}

diesel::table! {
    password_resets (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    consultation_stats (fiscal_year, division_id, measure, key) {
        fiscal_year -> Integer,
        division_id -> BigInt,
        measure -> Text,
        key -> Text,
        n -> BigInt,
        total -> BigInt,
    }
}

diesel::table! {
    similar_cache (consultation_id) {
        consultation_id -> BigInt,
        similar_ids -> Text,
        computed_at -> Timestamp,
    }
}

diesel::table! {
    consultation_counters (fiscal_year) {
        fiscal_year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    consultations (id) {
        id -> BigInt,
        number -> Text,
        fiscal_year -> Integer,
        title -> Text,
        body -> Text,
        category -> Text,
        priority -> Text,
        department_id -> BigInt,
        requester_id -> BigInt,
        contact -> Nullable<Text>,
        desired_by -> Nullable<Date>,
        state -> Text,
        assignee_id -> Nullable<BigInt>,
        hearing_at -> Nullable<Timestamp>,
        hearing_place -> Nullable<Text>,
        resolution -> Nullable<Text>,
        system_id -> Nullable<BigInt>,
        duplicate_of -> Nullable<BigInt>,
        rating -> Nullable<SmallInt>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_response_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        hearing_due_at -> Nullable<Timestamp>,
        resolution_due_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
        sla_paused_at -> Nullable<Timestamp>,
        reminded_due_at -> Nullable<Timestamp>,
        breached_due_at -> Nullable<Timestamp>,
        assigned_at -> Nullable<Timestamp>,
        reopen_count -> Integer,
        filed_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    consultation_events (id) {
        id -> BigInt,
        consultation_id -> BigInt,
        event -> Text,
        actor_id -> Nullable<BigInt>,
        from_state -> Nullable<Text>,
        to_state -> Text,
        payload -> Text,
        version -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    comments (id) {
        id -> BigInt,
        consultation_id -> BigInt,
        author_id -> BigInt,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        consultation_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        consultation_id -> Nullable<BigInt>,
        recipient_id -> Nullable<BigInt>,
        recipient_email -> Text,
        locale -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        calendar -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    systems (id) {
        id -> BigInt,
        name -> Text,
        department_id -> BigInt,
        platform -> Text,
        phase -> Text,
        built_by -> Text,
        workflow_before -> Nullable<Text>,
        workflow_after -> Nullable<Text>,
        hours_saved_per_year -> Nullable<BigInt>,
        cost_saved_per_year -> Nullable<BigInt>,
        holds_personal_data -> Bool,
        manual_location -> Nullable<Text>,
        owner_id -> BigInt,
        review_on -> Nullable<Date>,
        production_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        verified -> Bool,
        development_cost_avoided -> Nullable<BigInt>,
        other_effects -> Text,
    }
}

diesel::table! {
    effects_years (fiscal_year) {
        fiscal_year -> Integer,
        figures -> Text,
        closed_by -> Nullable<BigInt>,
        closed_at -> Timestamp,
    }
}

diesel::table! {
    effects_year_events (id) {
        id -> BigInt,
        fiscal_year -> Integer,
        action -> Text,
        actor_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    effects_settings (id) {
        id -> Integer,
        start_fiscal_year -> Integer,
        target_hours -> BigInt,
        target_amount -> Nullable<BigInt>,
        target_fiscal_year -> Integer,
        updated_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    system_events (id) {
        id -> BigInt,
        system_id -> BigInt,
        event -> Text,
        actor_id -> Nullable<BigInt>,
        from_phase -> Nullable<Text>,
        to_phase -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    system_idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        system_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inquiry_counters (fiscal_year) {
        fiscal_year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    inquiries (id) {
        id -> BigInt,
        number -> Text,
        fiscal_year -> Integer,
        subject -> Text,
        question -> Text,
        topic -> Text,
        channel -> Text,
        priority -> Text,
        department_id -> BigInt,
        asker_id -> BigInt,
        filed_by -> BigInt,
        state -> Text,
        assignee_id -> Nullable<BigInt>,
        answer -> Nullable<Text>,
        helped -> Nullable<Bool>,
        consultation_id -> Nullable<BigInt>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_answer_due_at -> Nullable<Timestamp>,
        first_answered_at -> Nullable<Timestamp>,
        answered_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        reminded_due_at -> Nullable<Timestamp>,
        breached_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inquiry_events (id) {
        id -> BigInt,
        inquiry_id -> BigInt,
        event -> Text,
        actor_id -> Nullable<BigInt>,
        from_state -> Nullable<Text>,
        to_state -> Text,
        payload -> Text,
        version -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inquiry_comments (id) {
        id -> BigInt,
        inquiry_id -> BigInt,
        author_id -> BigInt,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inquiry_idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        inquiry_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    faq_articles (id) {
        id -> BigInt,
        title -> Text,
        question -> Text,
        answer -> Text,
        topic -> Text,
        source_inquiry_id -> Nullable<BigInt>,
        version -> Integer,
        created_by -> BigInt,
        updated_by -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deflections (id) {
        id -> BigInt,
        user_id -> BigInt,
        faq_id -> Nullable<BigInt>,
        inquiry_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        consultation_id -> Nullable<BigInt>,
        inquiry_id -> Nullable<BigInt>,
        internal -> Bool,
        name -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
        uploaded_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    kintone_records (app, record_number) {
        app -> Text,
        record_number -> Text,
        target_id -> BigInt,
        imported_at -> Timestamp,
    }
}

diesel::joinable!(users -> departments (department_id));
diesel::joinable!(consultations -> departments (department_id));
diesel::joinable!(consultation_events -> consultations (consultation_id));
diesel::joinable!(comments -> consultations (consultation_id));
diesel::joinable!(inquiry_events -> inquiries (inquiry_id));
diesel::joinable!(inquiry_comments -> inquiries (inquiry_id));
diesel::joinable!(system_events -> systems (system_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    attachments,
    departments,
    users,
    password_resets,
    consultation_counters,
    inquiry_counters,
    inquiries,
    inquiry_events,
    inquiry_comments,
    inquiry_idempotency_keys,
    faq_articles,
    deflections,
    consultations,
    consultation_events,
    comments,
    idempotency_keys,
    outbox,
    systems,
    system_events,
    system_idempotency_keys,
    sessions,
    consultation_stats,
    similar_cache,
    effects_years,
    effects_year_events,
    effects_settings,
    kintone_records,
);
