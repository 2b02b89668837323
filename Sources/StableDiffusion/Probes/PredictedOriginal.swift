import Compute

/// The clean sample x0 a step's noise prediction points at, the quantity the paper's frequency
/// analysis looks at.
public enum PredictedOriginal {
    /// x0 from the model input and an epsilon prediction at noise level `sigma`. Every
    /// scheduler's model input is in variance-preserving form, `sqrt(a) x0 + sqrt(1 - a) eps`
    /// with `a = 1 / (1 + sigma^2)` (Euler's `scaleModelInput` divides by `sqrt(sigma^2 + 1)`
    /// exactly so), hence `x0 = (input - sqrt(1 - a) eps) / sqrt(a)`.
    public static func fromEpsilon(modelInput: Tensor, epsilon: Tensor, sigma: Float) -> Tensor {
        let alpha = 1 / (1 + Double(sigma) * Double(sigma))
        let noise = Float((1 - alpha).squareRoot()), inverse = Float(1 / alpha.squareRoot())
        let out = Tensor(uninitialized: modelInput.shape)
        for i in 0..<modelInput.count {
            out.pointer[i] = (modelInput.pointer[i] - noise * epsilon.pointer[i]) * inverse
        }
        return out
    }
}
