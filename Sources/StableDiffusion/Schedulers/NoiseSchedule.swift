import Foundation

/// The training noise schedule shared by every scheduler: betas, cumulative alphas and the
/// matching sigmas, computed with the float32 arithmetic diffusers' torch code uses.
public struct NoiseSchedule: Sendable {
    /// `alphas_cumprod`, one per training timestep.
    public let alphasCumprod: [Float]

    public init(_ settings: SchedulerSettings) {
        var betas = Self.betas(settings)
        if settings.rescaleBetasZeroSnr { betas = Self.zeroTerminalSNR(betas) }
        var cumprod = Self.cumprod(betas.map { 1 - $0 })
        if settings.floorsTerminalAlpha { cumprod[cumprod.count - 1] = 0x1p-24 }
        alphasCumprod = cumprod
    }

    /// `torch.cumprod` of float32 on CPU: accumulated in double, each output rounded.
    static func cumprod(_ values: [Float]) -> [Float] {
        var running = 1.0
        return values.map { value in
            running *= Double(value)
            return Float(running)
        }
    }

    /// diffusers' `rescale_zero_terminal_snr` (Lin et al. 2024, algorithm 1) in torch's float32
    /// steps: shift and scale sqrt(alphas_cumprod) so the first value stays and the last becomes
    /// 0, then back to betas.
    static func zeroTerminalSNR(_ betas: [Float]) -> [Float] {
        let root = cumprod(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let first = root[0], last = root[root.count - 1]
        let scale = first / (first - last)
        let bar = root.map { ($0 - last) * scale }.map { $0 * $0 }
        let alphas = [bar[0]] + (1..<bar.count).map { bar[$0] / bar[$0 - 1] }
        return alphas.map { 1 - $0 }
    }

    /// `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5`, ascending with the timestep.
    public var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }

    /// The noise level of training timestep `t` (used by the guidance interval on DDIM/PNDM).
    public func sigma(timestep t: Int) -> Float {
        let a = alphasCumprod[min(max(t, 0), alphasCumprod.count - 1)]
        return ((1 - a) / a).squareRoot()
    }

    static func betas(_ settings: SchedulerSettings) -> [Float] {
        let n = settings.numTrainTimesteps
        if let trained = settings.trainedBetas { return trained.map { Float($0) } }
        switch settings.betaSchedule {
        case .linear:
            return torchLinspace(Float(settings.betaStart), Float(settings.betaEnd), n)
        case .scaledLinear:
            return torchLinspace(Float(settings.betaStart.squareRoot()), Float(settings.betaEnd.squareRoot()), n)
                .map { $0 * $0 }
        case .squaredCosine:
            func alphaBar(_ t: Double) -> Double { let c = cos((t + 0.008) / 1.008 * Double.pi / 2); return c * c }
            return (0..<n).map { i in
                Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
            }
        }
    }

    /// `torch.linspace(start, end, n, dtype=float32)` on CPU: the first half counts up from
    /// `start`, the second half down from `end`, each value one fused multiply-add in float.
    static func torchLinspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        guard n > 1 else { return n == 1 ? [start] : [] }
        let step = (end - start) / Float(n - 1)
        let halfway = n / 2
        return (0..<n).map { i in
            i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - 1 - i))
        }
    }
}

/// NumPy's helpers as diffusers' `set_timesteps` uses them, in double precision.
enum NumPy {
    /// `np.linspace(start, stop, num)`: `i * step + start`, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        guard num > 1 else { return num == 1 ? [start] : [] }
        let step = (stop - start) / Double(num - 1)
        var values = (0..<num).map { Double($0) * step + start }
        values[num - 1] = stop
        return values
    }

    /// `np.arange(start, stop, step)` for doubles: NumPy derives the increment from the first two
    /// values, so it can differ from `step` in the last bit.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let count = max(0, Int(((stop - start) / step).rounded(.up)))
        guard count > 0 else { return [] }
        let delta = (start + step) - start
        return (0..<count).map { start + Double($0) * delta }
    }

    /// `np.round`: halves go to the even neighbour.
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// `np.interp(x, arange(len(fp)), fp)` for a table sampled at 0, 1, 2, ...
    static func interp(_ x: Double, _ fp: [Float]) -> Double {
        if x <= 0 { return Double(fp[0]) }
        let last = fp.count - 1
        if x >= Double(last) { return Double(fp[last]) }
        let j = Int(x.rounded(.down))
        if x == Double(j) { return Double(fp[j]) }
        let slope = (Double(fp[j + 1]) - Double(fp[j])) / 1.0
        return slope * (x - Double(j)) + Double(fp[j])
    }

    /// diffusers' `_sigma_to_t`: the fractional training timestep whose log-sigma matches,
    /// interpolating linearly in log-sigma between neighbours.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = log(max(sigma, 1e-10))
        // Last index whose log-sigma is <= logSigma (cumsum(...).argmax()), 0 when none.
        var low = 0
        for (i, value) in logSigmas.enumerated() where logSigma - Double(value) >= 0 { low = i }
        low = min(low, logSigmas.count - 2)
        let lo = Double(logSigmas[low]), hi = Double(logSigmas[low + 1])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    /// Karras et al. (2022) noise levels, rho = 7, as diffusers' `_convert_to_karras`.
    static func karrasSigmas(sigmaMin: Double, sigmaMax: Double, count: Int) -> [Double] {
        let rho = 7.0
        let minInvRho = pow(sigmaMin, 1 / rho), maxInvRho = pow(sigmaMax, 1 / rho)
        return linspace(0, 1, count).map { pow(maxInvRho + $0 * (minInvRho - maxInvRho), rho) }
    }
}
