//! Running as a Windows service: `tater-agent service install|uninstall` registers the agent
//! with the service control manager (automatic start, as LocalSystem, restarted when it ends
//! with an error), and `service run` is what the manager starts — the same daemon as `run`,
//! stopped by the manager's Stop and Shutdown controls.
//!
//! After a verified update the process ends without reporting "stopped", which the manager
//! treats as a failure: the restart actions set at install start it again, into the new
//! binary.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// The service's name in the service control manager.
pub const NAME: &str = "TaterAgent";
/// The exit code of the process that ends to be restarted (after an update).
pub const RESTART_CODE: u32 = 75;

/// What the daemon does once started: given a receiver that fires on Stop, it returns whether
/// it wants a restart (an update was installed) or why it failed.
pub type Daemon =
    Box<dyn FnOnce(tokio::sync::oneshot::Receiver<()>) -> Result<bool, String> + Send>;

static DAEMON: Mutex<Option<Daemon>> = Mutex::new(None);

/// Registers the service: `<this exe> service run --config <config>`.
pub fn install(config: &Path) -> Result<(), String> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| {
        format!("cannot reach the service control manager (run as an administrator): {e}")
    })?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let info = ServiceInfo {
        name: NAME.into(),
        display_name: "Tater Agent".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            "service".into(),
            "run".into(),
            "--config".into(),
            OsString::from(config.as_os_str()),
        ],
        dependencies: vec![],
        account_name: None, // LocalSystem
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .map_err(|e| format!("cannot create the {NAME} service: {e}"))?;
    service
        .set_description("Audits this machine against security checks and reports to Tater.")
        .map_err(|e| e.to_string())?;
    // Restart after any failure (and after an update, which ends with RESTART_CODE).
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(10),
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart.clone(), restart.clone(), restart]),
        })
        .map_err(|e| format!("cannot set the service's restart actions: {e}"))?;
    // Also restart after a stop with an error code. Best effort: an update's restart does not
    // depend on it (see `serve`), and some service managers (Wine's) do not support it.
    if let Err(e) = service.set_failure_actions_on_non_crash_failures(true) {
        eprintln!("note: the restart actions apply to crashes only here: {e}");
    }
    Ok(())
}

/// Stops (if running) and removes the service.
pub fn uninstall() -> Result<(), String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("cannot reach the service control manager: {e}"))?;
    let service = manager
        .open_service(
            NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(|e| format!("the {NAME} service is not installed: {e}"))?;
    if service
        .query_status()
        .is_ok_and(|s| s.current_state != ServiceState::Stopped)
    {
        let _ = service.stop();
    }
    service
        .delete()
        .map_err(|e| format!("cannot delete the {NAME} service: {e}"))
}

/// Hands this process to the service control manager, which then calls the daemon.
pub fn run(daemon: Daemon) -> Result<(), String> {
    *DAEMON.lock().map_err(|_| "service state poisoned")? = Some(daemon);
    service_dispatcher::start(NAME, ffi_service_main)
        .map_err(|e| format!("not started by the service control manager: {e}"))
}

define_windows_service!(ffi_service_main, service_main);

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = serve() {
        eprintln!("service: {e}");
    }
}

fn status(state: ServiceState, exit: ServiceExitCode) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: exit,
        checkpoint: 0,
        wait_hint: Duration::from_secs(10),
        process_id: None,
    }
}

fn serve() -> Result<(), String> {
    let daemon = DAEMON
        .lock()
        .map_err(|_| "service state poisoned")?
        .take()
        .ok_or("no daemon to run")?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Ok(mut tx) = stop_tx.lock()
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(NAME, handler).map_err(|e| e.to_string())?;
    handle
        .set_service_status(status(ServiceState::Running, ServiceExitCode::Win32(0)))
        .map_err(|e| e.to_string())?;
    let exit = match daemon(stop_rx) {
        Ok(false) => ServiceExitCode::Win32(0),
        Ok(true) => {
            // Ending while "running" is what the restart actions answer on every Windows
            // version, whatever the non-crash-failure flag says.
            eprintln!(
                "service: a new binary is in place; ending so the service manager restarts it"
            );
            std::process::exit(RESTART_CODE as i32);
        }
        Err(e) => {
            eprintln!("service: {e}");
            ServiceExitCode::ServiceSpecific(1)
        }
    };
    handle
        .set_service_status(status(ServiceState::Stopped, exit))
        .map_err(|e| e.to_string())
}
