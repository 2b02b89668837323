import Compute
import Foundation

/// Energy of an NCHW tensor below and above a spatial frequency, summed over channels and batch:
/// the paper's measure of "shape first, details later" (its Figure 2 splits the latent's spectrum).
public struct FrequencyEnergy: Equatable, Sendable {
    /// Mean square of the components with radial frequency at most the cut-off (the mean, DC,
    /// included: it is the flat background colour).
    public let low: Double
    /// Mean square of the components above it.
    public let high: Double

    public var total: Double { low + high }

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    /// Splits `tensor`'s energy at `cutoff` cycles per pixel (0 ... 0.71; 0.125 on a 16 x 16
    /// latent keeps frequencies up to 2 cycles across it). Per channel a 2-D discrete Fourier
    /// transform, separable (rows, then columns), in double; by Parseval low + high is the mean
    /// square of the input.
    public static func measure(_ tensor: Tensor, cutoff: Double) -> FrequencyEnergy {
        let shape = tensor.shape
        let h = shape[shape.count - 2], w = shape[shape.count - 1]
        let planes = tensor.count / (h * w)
        var low = 0.0, high = 0.0
        let rowTwiddles = twiddles(w), columnTwiddles = twiddles(h)
        var re = [Double](repeating: 0, count: h * w), im = re
        for p in 0..<planes {
            let base = tensor.pointer + p * h * w
            // Rows: real input.
            for y in 0..<h {
                for k in 0..<w {
                    var sr = 0.0, si = 0.0
                    for x in 0..<w {
                        let v = Double(base[y * w + x]), t = rowTwiddles[(k * x) % w]
                        sr += v * t.cos; si -= v * t.sin
                    }
                    re[y * w + k] = sr; im[y * w + k] = si
                }
            }
            // Columns, then sort each component by its radius.
            for k in 0..<w {
                let fx = Double(k <= w / 2 ? k : k - w) / Double(w)
                for l in 0..<h {
                    var sr = 0.0, si = 0.0
                    for y in 0..<h {
                        let t = columnTwiddles[(l * y) % h], a = re[y * w + k], b = im[y * w + k]
                        sr += a * t.cos + b * t.sin
                        si += b * t.cos - a * t.sin
                    }
                    let fy = Double(l <= h / 2 ? l : l - h) / Double(h)
                    let energy = sr * sr + si * si
                    if (fx * fx + fy * fy).squareRoot() <= cutoff { low += energy } else { high += energy }
                }
            }
        }
        // Parseval: sum |X|^2 = H W sum x^2; divide by the element count for a mean square.
        let scale = 1 / (Double(h * w) * Double(tensor.count))
        return FrequencyEnergy(low: low * scale, high: high * scale)
    }

    private static func twiddles(_ n: Int) -> [(cos: Double, sin: Double)] {
        (0..<n).map { let a = 2 * Double.pi * Double($0) / Double(n); return (cos(a), sin(a)) }
    }

    /// Element-wise `a - b` of two same-shaped tensors (the change of x0 between steps).
    public static func difference(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        for i in 0..<a.count { out.pointer[i] = a.pointer[i] - b.pointer[i] }
        return out
    }
}
