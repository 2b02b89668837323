import Foundation

/// Settings that libgomp and glibc read once, when the process starts: the process re-executes
/// itself once with them in its environment, unless the user chose a wait policy (then it runs
/// as started). A variable the user set is never overridden.
///
/// - `OMP_WAIT_POLICY=passive`: libgomp's worker threads spin after each parallel region by
///   default. On a machine that runs anything else, a spinning worker takes the core the next
///   operation needs: measured here with a background job on the other core, 10 tiny-model
///   steps took 30 s instead of 0.3 s.
/// - `MALLOC_ARENA_MAX=1`: one heap for every thread. The sample lanes (`Threads.forEachSample`)
///   run on threads of their own, which would each get an arena whose freed activations the
///   others cannot reuse: 0.18 GiB more peak memory at SD 1.5 512x512, no speed difference.
enum ProcessEnvironment {
    static func settle() {
        let env = ProcessInfo.processInfo.environment
        guard env["OMP_WAIT_POLICY"] == nil, env["GOMP_SPINCOUNT"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        setenv("MALLOC_ARENA_MAX", "1", 0)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc?): carry on with the defaults.
    }
}
