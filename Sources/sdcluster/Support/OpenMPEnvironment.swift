import Foundation

/// libgomp's worker threads spin after each parallel region by default. On a machine that runs
/// anything else, a spinning worker takes the core the next operation needs: measured here with
/// a background job on the other core, 10 tiny-model steps took 30 s instead of 0.3 s. libgomp
/// reads its settings once, when it is loaded, so the process re-executes itself once with
/// `OMP_WAIT_POLICY=passive` unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT).
enum OpenMPEnvironment {
    static func ensurePassiveWaiting() {
        let env = ProcessInfo.processInfo.environment
        guard env["OMP_WAIT_POLICY"] == nil, env["GOMP_SPINCOUNT"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc?): carry on with libgomp's defaults.
    }
}
