//! `sqlx::migrate!` reads the migration directories at compile time, but cargo only knows to
//! build again when a file it already read changes: a migration added later would be left
//! out of an incremental build (and its tables missing at run time) until something else
//! changed. Watching the directories fixes that.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
