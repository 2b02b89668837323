import Compute

/// PNDM's pseudo Runge-Kutta warm-up (`step_prk`), used when `skip_prk_steps` is false: four
/// evaluations per timestep over the last four grid points, combined with weights
/// 1/6, 1/3, 1/3, 1/6, before the linear multistep steps take over.
extension PNDMScheduler {
    /// `prk_timesteps`: the last four grid points `a < b < c < d`, each with its half step,
    /// laid out as `d, c+h, c+h, c, c, b+h, b+h, b, b, a+h, a+h, a`.
    static func rungeKuttaTimesteps(_ grid: [Int], halfStep h: Int) -> [Int] {
        let last4 = Array(grid.suffix(4))
        let paired = last4.flatMap { [$0, $0 + h] }             // a, a+h, b, b+h, c, c+h, d, d+h
        let doubled = paired.dropLast().flatMap { [$0, $0] }    // [:-1].repeat(2)
        return Array(doubled.dropFirst().dropLast()).reversed() // [1:-1][::-1]
    }

    func rungeKuttaStep(_ modelOutput: Tensor, stepIndex counter: Int, sample: Tensor,
                        state: inout SchedulerState) throws -> Tensor {
        let halfStep = stepRatio / 2
        let prevT = integerTimesteps[counter] - (counter % 2 == 1 ? 0 : halfStep)
        let t = integerTimesteps[counter / 4 * 4]
        let shape = sample.shape
        var output = modelOutput
        switch counter % 4 {
        case 0:
            state.rungeKuttaSum = PackedFloats(modelOutput.values.map { Float(1.0 / 6.0) * $0 })
            state.history.append(SchedulerMath.packed(modelOutput))
            state.pendingSample = SchedulerMath.packed(sample)
        case 1, 2:
            let sum = SchedulerMath.tensor(state.rungeKuttaSum ?? PackedFloats(Array(repeating: 0, count: sample.count)), shape: shape)
            state.rungeKuttaSum = SchedulerMath.packed(try SchedulerMath.map(sum, modelOutput) { s, m in s + Float(1.0 / 3.0) * m })
        default:
            let sum = SchedulerMath.tensor(state.rungeKuttaSum ?? PackedFloats(Array(repeating: 0, count: sample.count)), shape: shape)
            output = try SchedulerMath.map(sum, modelOutput) { s, m in s + Float(1.0 / 6.0) * m }
            state.rungeKuttaSum = nil
        }
        let base = state.pendingSample.map { SchedulerMath.tensor($0, shape: shape) } ?? sample
        return try previousSample(base, t: t, prevT: prevT, modelOutput: output)
    }
}
