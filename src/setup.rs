//! First run. Before the first tenant exists, `serve` writes a one-time setup token to a file
//! beside the SQLite database (mode 0600) and logs only the file's path. Whoever can read that
//! file creates the first tenant and its owner from the dashboard's setup page.
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::Role;
use crate::core::Core;
use crate::store::{StoreResult, TenantRecord};
use crate::tenants::{self, TenantSettings};
use crate::usecase::{UseCaseError, UseCaseResult};
use crate::users::{self, MIN_PASSWORD_CHARS, NewUser};

/// How far an install is: no tenant, tenants but nobody to log in, or ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    NoTenant,
    NoUser,
    Ready,
}

/// The armed setup token (its digest and file), and whether a user exists: once one does, the
/// install stays ready, so the root URL stops asking the database.
#[derive(Default)]
pub struct FirstRun {
    armed: Mutex<Option<Armed>>,
    ready: AtomicBool,
    /// When the install was last found without users: anonymous visits re-ask at most this often.
    no_user_since: Mutex<Option<Instant>>,
}

/// How long a `NoUser` answer is reused.
const NO_USER_FOR: Duration = Duration::from_secs(2);

struct Armed {
    digest: [u8; 32],
    file: Option<PathBuf>,
}

/// Tenants checked for a user before the install counts as ready anyway (a large deployment).
const TENANTS_CHECKED: usize = 50;

impl FirstRun {
    /// Accepts `token` once, until it is used.
    pub fn arm(&self, token: &str, file: Option<PathBuf>) {
        let digest = Sha256::digest(token.as_bytes()).into();
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed { digest, file });
    }

    pub fn is_armed(&self) -> bool {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// The token file's name (not its directory), for the setup page.
    pub fn file_name(&self) -> Option<String> {
        let armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        armed.as_ref()?.file.as_ref()?.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// Takes the token out when `token` is it, under the lock that checks it, so two right
    /// guesses at once claim it once. `finish` spends it, `release` puts it back.
    fn claim(&self, token: &str) -> Option<Armed> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let current = armed.as_ref()?;
        if !bool::from(current.digest.ct_eq(&digest)) {
            return None;
        }
        armed.take()
    }

    /// The first tenant and owner exist: the token's file goes.
    fn finish(&self, claimed: Armed) {
        if let Some(file) = claimed.file {
            remove_token_file(&file);
        }
    }

    /// Creating them failed on our side: the same token works again.
    fn release(&self, claimed: Armed) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(claimed);
    }

    fn disarm(&self) {
        let armed = self.armed.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(file) = armed.and_then(|a| a.file) {
            remove_token_file(&file);
        }
    }

    pub async fn install(&self, core: &Core) -> StoreResult<Install> {
        if self.ready.load(Ordering::Relaxed) {
            return Ok(Install::Ready);
        }
        let cached = *self.no_user_since.lock().unwrap_or_else(|e| e.into_inner());
        if cached.is_some_and(|at| at.elapsed() < NO_USER_FOR) {
            return Ok(Install::NoUser);
        }
        let tenants = core.store.tenant_ids().await?;
        if tenants.is_empty() {
            return Ok(Install::NoTenant);
        }
        // A tenant made meanwhile (say by the CLI) ends the token's use: it goes with its file.
        self.disarm();
        for tenant in tenants.iter().take(TENANTS_CHECKED) {
            let mut tx = core.store.begin_read(*tenant).await?;
            let users = tx.users().await?;
            tx.commit().await?;
            if !users.is_empty() {
                self.ready.store(true, Ordering::Relaxed);
                return Ok(Install::Ready);
            }
        }
        if tenants.len() > TENANTS_CHECKED {
            self.ready.store(true, Ordering::Relaxed);
            return Ok(Install::Ready);
        }
        *self.no_user_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(Install::NoUser)
    }
}

/// `<database>.setup-token`.
pub fn token_file(db_path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.setup-token", db_path.display()))
}

fn remove_token_file(file: &Path) {
    if let Err(e) = std::fs::remove_file(file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %file.display(), error = %e, "could not remove the spent setup token file");
    }
}

/// At `serve`'s start: with no tenant and a database file, a new token goes into the file beside
/// it (the log names only the path). Once set up, a token file left over is removed.
pub async fn arm_on_first_run(core: &Core, first: &FirstRun, db_path: Option<&Path>) -> anyhow::Result<()> {
    let install = first.install(core).await?;
    let Some(db_path) = db_path else {
        if install == Install::NoTenant {
            tracing::info!(
                "no tenant yet: create one with `balas tenant create` and its owner with `balas user create`"
            );
        }
        return Ok(());
    };
    let file = token_file(db_path);
    if install != Install::NoTenant {
        remove_token_file(&file);
        return Ok(());
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    remove_token_file(&file);
    crate::config::write_private(&file, &format!("{token}\n"))?;
    first.arm(&token, Some(file.clone()));
    tracing::info!(path = %file.display(), "first run: open the dashboard and use the setup token in this file");
    Ok(())
}

/// What the setup page asks for.
pub struct FirstOwner<'a> {
    pub token: &'a str,
    pub business: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub language: &'a str,
}

/// Creates the first tenant and its owner (audited as `setup`) with the armed token, spent
/// here. Everything the person typed is checked first, so a typo does not cost the token.
pub async fn create_first(core: &Core, first: &FirstRun, input: FirstOwner<'_>) -> UseCaseResult<TenantRecord> {
    let invalid = |code: &'static str, detail: &str| UseCaseError::invalid(code, detail.to_string());
    if tenants::slugify(input.business).is_empty() {
        return Err(invalid("invalid_tenant", "the business name needs a letter or digit"));
    }
    if input.email.trim().parse::<lettre::Address>().is_err() {
        return Err(invalid("invalid_user", "that is not an e-mail address"));
    }
    if input.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid("invalid_user", "the password is too short"));
    }
    let settings = TenantSettings { language: input.language.to_string(), ..TenantSettings::default() }.validated()?;
    if first.install(core).await? != Install::NoTenant {
        return Err(UseCaseError::conflict("already_set_up", "a tenant exists already; log in instead"));
    }
    let Some(claimed) = first.claim(input.token) else {
        return Err(UseCaseError::forbidden("setup_token_wrong", "the setup token is wrong or was used"));
    };
    let now = core.clock.now();
    let created = async {
        let tenant =
            tenants::create_by(&*core.store, &core.keys, input.business, None, &settings, "setup", now).await?;
        let owner = NewUser { email: input.email, role: Role::Owner, password: input.password };
        users::create(&*core.store, &core.keys, tenant.id, owner, "setup", now).await?;
        Ok(tenant)
    };
    match created.await {
        Ok(tenant) => {
            first.finish(claimed);
            Ok(tenant)
        }
        Err(e) => {
            // A tenant left without its owner makes the install `NoUser`, which disarms it again.
            first.release(claimed);
            Err(e)
        }
    }
}
