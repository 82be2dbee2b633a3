//! The SurrealQL schema, applied idempotently (`DEFINE ... OVERWRITE`) every time the store opens.

/// Version of [`SCHEMA`]; recorded in `meta:schema` so an older hub refuses a newer database.
pub const SCHEMA_VERSION: i64 = 5;

/// Every table, field and index. Tables are schemafull: unknown fields are refused.
pub const SCHEMA: &str = r#"
DEFINE TABLE OVERWRITE meta SCHEMAFULL;
DEFINE FIELD OVERWRITE version ON meta TYPE int;
DEFINE FIELD OVERWRITE applied_at ON meta TYPE datetime;

DEFINE TABLE OVERWRITE user SCHEMAFULL;
DEFINE FIELD OVERWRITE username ON user TYPE string ASSERT string::len($value) > 0;
DEFINE FIELD OVERWRITE password_hash ON user TYPE string;
DEFINE FIELD OVERWRITE role ON user TYPE string ASSERT $value IN ["admin", "teacher"];
DEFINE FIELD OVERWRITE active ON user TYPE bool DEFAULT true;
DEFINE FIELD OVERWRITE classrooms ON user TYPE array<string> DEFAULT [];
DEFINE FIELD OVERWRITE credentials_changed_at ON user TYPE option<datetime>;
DEFINE FIELD OVERWRITE created_at ON user TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE user_username ON user FIELDS username UNIQUE;

DEFINE TABLE OVERWRITE student SCHEMAFULL;
DEFINE FIELD OVERWRITE student_number ON student TYPE string ASSERT string::len($value) > 0;
DEFINE FIELD OVERWRITE full_name ON student TYPE string;
DEFINE FIELD OVERWRITE email ON student TYPE option<string>;
DEFINE FIELD OVERWRITE department ON student TYPE option<string>;
DEFINE FIELD OVERWRITE year ON student TYPE option<int>;
DEFINE FIELD OVERWRITE created_at ON student TYPE datetime DEFAULT time::now();
DEFINE FIELD OVERWRITE consent_granted ON student TYPE bool DEFAULT false;
DEFINE FIELD OVERWRITE last_seen_at ON student TYPE option<datetime>;
DEFINE INDEX OVERWRITE student_number_unique ON student FIELDS student_number UNIQUE;

DEFINE TABLE OVERWRITE consent SCHEMAFULL;
DEFINE FIELD OVERWRITE student ON consent TYPE record<student>;
DEFINE FIELD OVERWRITE granted ON consent TYPE bool;
DEFINE FIELD OVERWRITE given_by ON consent TYPE string;
DEFINE FIELD OVERWRITE notice_version ON consent TYPE string;
DEFINE FIELD OVERWRITE recorded_by ON consent TYPE option<record<user>>;
DEFINE FIELD OVERWRITE recorded_at ON consent TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE consent_student ON consent FIELDS student;

DEFINE TABLE OVERWRITE face SCHEMAFULL;
DEFINE FIELD OVERWRITE student ON face TYPE record<student>;
DEFINE FIELD OVERWRITE embedding ON face TYPE string | array<float, 128>;
DEFINE FIELD OVERWRITE source_path ON face TYPE option<string>;
DEFINE FIELD OVERWRITE created_at ON face TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE face_student ON face FIELDS student;

DEFINE TABLE OVERWRITE device SCHEMAFULL;
DEFINE FIELD OVERWRITE device_id ON device TYPE string ASSERT string::len($value) > 0;
DEFINE FIELD OVERWRITE classroom_id ON device TYPE string;
DEFINE FIELD OVERWRITE location ON device TYPE option<string>;
DEFINE FIELD OVERWRITE status ON device TYPE string ASSERT $value IN ["active", "inactive", "error"];
DEFINE FIELD OVERWRITE state ON device TYPE string DEFAULT "unknown";
DEFINE FIELD OVERWRITE last_seen ON device TYPE option<datetime>;
DEFINE FIELD OVERWRITE secret_hash ON device TYPE option<string>;
DEFINE FIELD OVERWRITE signing_key ON device TYPE option<string>;
DEFINE FIELD OVERWRITE config ON device TYPE object FLEXIBLE;
DEFINE FIELD OVERWRITE created_at ON device TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE device_id_unique ON device FIELDS device_id UNIQUE;

DEFINE TABLE OVERWRITE attendance SCHEMAFULL;
DEFINE FIELD OVERWRITE device_id ON attendance TYPE string;
DEFINE FIELD OVERWRITE classroom_id ON attendance TYPE string;
DEFINE FIELD OVERWRITE captured_image_path ON attendance TYPE option<string>;
DEFINE FIELD OVERWRITE predicted_student ON attendance TYPE option<record<student>>;
DEFINE FIELD OVERWRITE confidence ON attendance TYPE float;
DEFINE FIELD OVERWRITE distance ON attendance TYPE option<float>;
DEFINE FIELD OVERWRITE timestamp ON attendance TYPE datetime;
DEFINE FIELD OVERWRITE session_start ON attendance TYPE datetime;
DEFINE FIELD OVERWRITE frame_count ON attendance TYPE int DEFAULT 1;
DEFINE FIELD OVERWRITE review_status ON attendance TYPE string ASSERT $value IN ["pending", "approved", "rejected"];
DEFINE FIELD OVERWRITE reviewer ON attendance TYPE option<record<user>>;
DEFINE FIELD OVERWRITE review_timestamp ON attendance TYPE option<datetime>;
DEFINE FIELD OVERWRITE notes ON attendance TYPE option<string>;
DEFINE FIELD OVERWRITE descriptor ON attendance TYPE option<string | array<float>>;
DEFINE INDEX OVERWRITE attendance_session ON attendance FIELDS classroom_id, predicted_student, session_start;
DEFINE INDEX OVERWRITE attendance_status ON attendance FIELDS review_status;
DEFINE INDEX OVERWRITE attendance_timestamp ON attendance FIELDS timestamp;

DEFINE TABLE OVERWRITE frame SCHEMAFULL;
DEFINE FIELD OVERWRITE device_id ON frame TYPE string;
DEFINE FIELD OVERWRITE classroom_id ON frame TYPE string;
DEFINE FIELD OVERWRITE captured_at ON frame TYPE datetime;
DEFINE FIELD OVERWRITE faces ON frame TYPE int;
DEFINE FIELD OVERWRITE committed_at ON frame TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE frame_captured ON frame FIELDS captured_at;

DEFINE TABLE OVERWRITE audit SCHEMAFULL;
DEFINE FIELD OVERWRITE actor_kind ON audit TYPE string ASSERT $value IN ["user", "device", "system"];
DEFINE FIELD OVERWRITE user ON audit TYPE option<record<user>>;
DEFINE FIELD OVERWRITE device_id ON audit TYPE option<string>;
DEFINE FIELD OVERWRITE action ON audit TYPE string;
DEFINE FIELD OVERWRITE target_table ON audit TYPE string;
DEFINE FIELD OVERWRITE target_id ON audit TYPE option<string>;
DEFINE FIELD OVERWRITE meta ON audit TYPE object FLEXIBLE DEFAULT {};
DEFINE FIELD OVERWRITE timestamp ON audit TYPE datetime DEFAULT time::now();
DEFINE INDEX OVERWRITE audit_timestamp ON audit FIELDS timestamp;

DEFINE TABLE OVERWRITE refresh_token SCHEMAFULL;
DEFINE FIELD OVERWRITE user ON refresh_token TYPE record<user>;
DEFINE FIELD OVERWRITE expires_at ON refresh_token TYPE datetime;
DEFINE FIELD OVERWRITE used ON refresh_token TYPE bool DEFAULT false;
DEFINE FIELD OVERWRITE family ON refresh_token TYPE option<string>;
DEFINE FIELD OVERWRITE revoked ON refresh_token TYPE bool DEFAULT false;
DEFINE INDEX OVERWRITE refresh_token_user ON refresh_token FIELDS user;
DEFINE INDEX OVERWRITE refresh_token_family ON refresh_token FIELDS family;

-- Students from before schema version 4 have no consent decision (DEFAULT applies on CREATE only).
UPDATE student SET consent_granted = false WHERE consent_granted = NONE;
"#;
