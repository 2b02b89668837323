// swift-tools-version:6.1
// sdcluster: a distributed Stable Diffusion sampler for Linux CPUs.
// Module layering (no upward arrows): C shims -> Compute -> StableDiffusion -> Cluster -> sdcluster.
import PackageDescription

// oneDNN 3.2, unpacked by scripts/install-deps.sh into .deps/onednn of this checkout (Debian 12
// ships only 2.6): its headers for every module that sees CDNNL, and an rpath so the binary
// and the test bundles find the library wherever they are run from.
let oneDNN = Context.packageDirectory + "/.deps/onednn"
let oneDNNHeaders: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-I\(oneDNN)/include"])]
let oneDNNLibrary: [LinkerSetting] = [.unsafeFlags(["-L\(oneDNN)/lib", "-Xlinker", "-l:libdnnl.so.3",
                                                    "-Xlinker", "-rpath", "-Xlinker", "\(oneDNN)/lib"])]

// The engine's own loops (norms, element-wise ops, schedulers) are optimised in debug builds
// too: unoptimised Swift is ~50x slower there, which would make the parity tests crawl.
let optimize: [SwiftSetting] = oneDNNHeaders + [
    .unsafeFlags(["-O"], .when(configuration: .debug)),
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "sdcluster",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sdcluster", targets: ["sdcluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // 1.16: `LogHandler.log(event:)` (the older entry point is deprecated there).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // The HTTP front door (`coordinator --http`). Without its swift-configuration trait, which
        // sdcluster does not use (one package fewer to build).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
    ],
    targets: [
        // System libraries, from Debian packages (module maps only); oneDNN from .deps/onednn.
        .systemLibrary(name: "CDNNL"),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),

        // Hand-written C kernels (softmax), optimised in debug builds too.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Tensors and oneDNN-backed operations.
        .target(name: "Compute", dependencies: ["CDNNL", "CKernels"], swiftSettings: optimize, linkerSettings: oneDNNLibrary),
        // Models, tokenizer, schedulers, guidance plans, the sampling state machine, the local pipeline.
        .target(name: "StableDiffusion", dependencies: ["Compute"], swiftSettings: optimize),
        // PNG encode/decode with text chunks.
        .target(name: "ImageIO", dependencies: ["CPNG"], swiftSettings: optimize),
        // The synthetic world of the default model: data generator and judge.
        .target(name: "ShapesWorld", dependencies: ["ImageIO"], swiftSettings: optimize),
        // ZeroMQ wrapper, wire protocol, coordinator, worker, client.
        .target(name: "Cluster", dependencies: ["Compute", "StableDiffusion", "ImageIO", "CZeroMQ", "CSQLite",
                                         .product(name: "Logging", package: "swift-log")], swiftSettings: optimize),
        // The coordinator's HTTP front door: A1111-compatible API, batch API, metrics, status page.
        // A client of the coordinator's client socket, so every rule of the cluster applies to it.
        .target(name: "HTTPGateway", dependencies: ["Cluster", "StableDiffusion", "ImageIO",
                                                    .product(name: "Hummingbird", package: "hummingbird")]),
        // The command-line tool.
        .executableTarget(
            name: "sdcluster",
            dependencies: [
                "Compute", "StableDiffusion", "ImageIO", "ShapesWorld", "Cluster", "HTTPGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: optimize),

        .testTarget(name: "ComputeTests", dependencies: ["Compute"], swiftSettings: oneDNNHeaders),
        .testTarget(name: "StableDiffusionTests", dependencies: ["StableDiffusion", "Compute", "ImageIO"],
                    exclude: ["Fixtures", "Weights/Fixtures"], swiftSettings: oneDNNHeaders),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld", "ImageIO"]),
        // With the HTTP gateway's tests: they drive it over real HTTP against a coordinator and workers.
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "StableDiffusion", "HTTPGateway"], swiftSettings: oneDNNHeaders),
        // The shipped default model (models/shapes): prompt adherence and bf16 fidelity.
        .testTarget(name: "DefaultModelTests", dependencies: ["StableDiffusion", "ShapesWorld", "ImageIO", "Compute"], swiftSettings: oneDNNHeaders),
    ],
    // Swift 5 language mode: the engine shares raw buffers across its own worker threads on purpose.
    swiftLanguageModes: [.v5]
)
