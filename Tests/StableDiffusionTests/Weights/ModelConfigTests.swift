import Foundation
import XCTest
@testable import StableDiffusion

/// Config records decode diffusers' and transformers' `config.json` files with their defaults.
final class ModelConfigTests: XCTestCase {
    /// `unet/config.json` as published with SD v1.5 (diffusers 0.6 wrote only non-default keys).
    static let sd15UNetJSON = """
        {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
         "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
         "cross_attention_dim": 768, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
         "CrossAttnDownBlock2D", "DownBlock2D"], "downsample_padding": 1, "flip_sin_to_cos": true,
         "freq_shift": 0, "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1,
         "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
         "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}
        """
    static let sd15TextEncoderJSON = """
        {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"],
         "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu",
         "hidden_size": 768, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072,
         "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "model_type": "clip_text_model",
         "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768,
         "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408}
        """
    static let sd15VAEJSON = """
        {"_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu",
         "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D",
         "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"], "in_channels": 3, "latent_channels": 4,
         "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3, "sample_size": 512,
         "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
        """

    func testPublishedSD15ConfigsDecodeToTheBuiltInSD15Configs() throws {
        XCTAssertEqual(try UNetConfig.decode(Data(Self.sd15UNetJSON.utf8), file: "unet"), .stableDiffusion15)
        XCTAssertEqual(try CLIPTextConfig.decode(Data(Self.sd15TextEncoderJSON.utf8), file: "te"), .stableDiffusion15)
        XCTAssertEqual(try VAEConfig.decode(Data(Self.sd15VAEJSON.utf8), file: "vae"), .stableDiffusion15)
    }

    func testSD15ConfigsHaveTheDocumentedValues() {
        let unet = UNetConfig.stableDiffusion15
        XCTAssertEqual((0..<4).map(unet.headCount(forBlock:)), [8, 8, 8, 8])
        XCTAssertEqual((0..<4).map(unet.headDim(forBlock:)), [40, 80, 160, 160])
        XCTAssertEqual(unet.crossAttentionDim(forBlock: 2), 768)
        XCTAssertEqual(unet.midBlockType, "UNetMidBlock2DCrossAttn")
        XCTAssertFalse(unet.useLinearProjection)
        XCTAssertTrue(unet.flipSinToCos)
        XCTAssertEqual(unet.freqShift, 0)
        XCTAssertEqual(unet.timeEmbeddingWidth, 1280)
        XCTAssertEqual(VAEConfig.stableDiffusion15.scalingFactor, 0.18215)
        XCTAssertEqual(VAEConfig.stableDiffusion15.downscaleFactor, 8)
        XCTAssertEqual(CLIPTextConfig.stableDiffusion15.headDim, 64)
        XCTAssertEqual(CLIPTextConfig.stableDiffusion15.hiddenAct, "quick_gelu")
    }

    /// The size `generate` uses when none is given: sample_size x the VAE factor, as diffusers.
    func testTheNativeImageSizeIsTheSampleSizeTimesTheVAEFactor() throws {
        let sd15 = try XCTUnwrap(UNetConfig.stableDiffusion15.nativeImageSize(vaeScaleFactor: 8))
        XCTAssertEqual([sd15.width, sd15.height], [512, 512])
        var config = UNetConfig.stableDiffusion15
        config.sampleSize = .many([96, 64])
        let wide = try XCTUnwrap(config.nativeImageSize(vaeScaleFactor: 8))
        XCTAssertEqual([wide.width, wide.height], [512, 768], "[height, width], as diffusers reads it")
        config.sampleSize = nil
        XCTAssertNil(config.nativeImageSize(vaeScaleFactor: 8))
    }

    /// The fixture holds the full configs that diffusers / transformers themselves produced for
    /// SD v1.5-shaped models, so every default the records fill in is checked against theirs.
    func testFullConfigsWrittenByDiffusersDecodeToTheSameRecords() throws {
        let sd15 = try XCTUnwrap(CompVisKeyFixture.load().cases.first { $0.name == "sd15" })
        XCTAssertEqual(try UNetConfig.decode(sd15.unetConfig.data, file: "unet"), .stableDiffusion15)
        XCTAssertEqual(try VAEConfig.decode(sd15.vaeConfig.data, file: "vae"), .stableDiffusion15)
        XCTAssertEqual(try CLIPTextConfig.decode(sd15.textEncoderConfig.data, file: "te"), .stableDiffusion15)
    }

    func testEmptyConfigsGiveTheLibraryDefaults() throws {
        let unet = try UNetConfig.decode(Data("{}".utf8), file: "u")
        XCTAssertEqual(unet.crossAttentionDim, .one(1280))
        XCTAssertNil(unet.sampleSize)
        XCTAssertEqual(unet.normNumGroups, 32)
        let vae = try VAEConfig.decode(Data("{}".utf8), file: "v")
        XCTAssertEqual(vae.blockOutChannels, [64])
        XCTAssertEqual(vae.scalingFactor, 0.18215)
        XCTAssertTrue(vae.useQuantConv && vae.usePostQuantConv && vae.midBlockAddAttention)
        let clip = try CLIPTextConfig.decode(Data("{}".utf8), file: "c")
        XCTAssertEqual([clip.hiddenSize, clip.intermediateSize, clip.numAttentionHeads], [512, 2048, 8])
    }

    func testAttentionHeadDimMayBeOneValueOrOnePerBlock() throws {
        let list = try UNetConfig.decode(Data(#"{"attention_head_dim": [5, 10, 20, 20]}"#.utf8), file: "u")
        XCTAssertEqual((0..<4).map(list.headCount(forBlock:)), [5, 10, 20, 20])
        XCTAssertEqual(list.headDim(forBlock: 0), 64)
        let single = try UNetConfig.decode(Data(#"{"attention_head_dim": 4}"#.utf8), file: "u")
        XCTAssertEqual((0..<4).map(single.headCount(forBlock:)), [4, 4, 4, 4])
    }

    func testNumAttentionHeadsTakesPrecedenceOverAttentionHeadDim() throws {
        let config = try UNetConfig.decode(Data(#"{"attention_head_dim": 8, "num_attention_heads": [2, 4, 8, 8]}"#.utf8),
                                           file: "u")
        XCTAssertEqual((0..<4).map(config.headCount(forBlock:)), [2, 4, 8, 8])
    }

    func testPerBlockListsMayReplaceScalars() throws {
        let json = #"{"layers_per_block": [1, 2, 2, 3], "cross_attention_dim": [8, 8, 16, 16], "only_cross_attention": [true, false, false, false]}"#
        let config = try UNetConfig.decode(Data(json.utf8), file: "u")
        XCTAssertEqual(config.layers(forBlock: 3), 3)
        XCTAssertEqual(config.crossAttentionDim(forBlock: 2), 16)
        XCTAssertTrue(config.onlyCrossAttention(forBlock: 0))
        XCTAssertNoThrow(try config.validate(file: "u"))
    }

    func testWrongTypeIsAnErrorNamingFileAndKey() {
        assertWeightError(["unet/config.json", "'in_channels'", "wrong type"]) {
            _ = try UNetConfig.decode(Data(#"{"in_channels": "four"}"#.utf8), file: "unet/config.json")
        }
        assertWeightError(["'attention_head_dim'"]) {
            _ = try UNetConfig.decode(Data(#"{"attention_head_dim": "8"}"#.utf8), file: "unet/config.json")
        }
        assertWeightError(["vae/config.json", "'scaling_factor'"]) {
            _ = try VAEConfig.decode(Data(#"{"scaling_factor": [1]}"#.utf8), file: "vae/config.json")
        }
        assertWeightError(["te.json", "not valid JSON"]) {
            _ = try CLIPTextConfig.decode(Data("{hidden".utf8), file: "te.json")
        }
    }

    func testExplicitNullMidBlockMeansNoMidBlockAndSurvivesARoundTrip() throws {
        let config = try UNetConfig.decode(Data(#"{"mid_block_type": null, "norm_num_groups": null}"#.utf8), file: "u")
        XCTAssertNil(config.midBlockType)
        XCTAssertNil(config.normNumGroups)
        XCTAssertEqual(try UNetConfig.decode(JSONEncoder().encode(config), file: "u"), config)
        let clip = try CLIPTextConfig.decode(Data(#"{"projection_dim": null}"#.utf8), file: "c")
        XCTAssertNil(clip.projectionDim)
        XCTAssertEqual(try CLIPTextConfig.decode(JSONEncoder().encode(clip), file: "c"), clip)
    }

    func testValidationCatchesInconsistentConfigs() {
        assertWeightError(["'up_block_types'", "3 entries for 4"]) {
            try UNetConfig.decode(Data(#"{"up_block_types": ["UpBlock2D", "UpBlock2D", "UpBlock2D"]}"#.utf8), file: "u")
                .validate(file: "u")
        }
        assertWeightError(["'attention_head_dim'", "do not divide"]) {
            try UNetConfig.decode(Data(#"{"attention_head_dim": 7}"#.utf8), file: "u").validate(file: "u")
        }
        assertWeightError(["'norm_num_groups'"]) {
            try VAEConfig.decode(Data(#"{"norm_num_groups": 48}"#.utf8), file: "v").validate(file: "v")
        }
        assertWeightError(["'num_attention_heads'"]) {
            try CLIPTextConfig.decode(Data(#"{"num_attention_heads": 7}"#.utf8), file: "c").validate(file: "c")
        }
    }

    func testConfigsRoundTripThroughJSON() throws {
        let data = try JSONEncoder().encode(UNetConfig.stableDiffusion15)
        XCTAssertEqual(try UNetConfig.decode(data, file: "u"), .stableDiffusion15)
        let list = try UNetConfig.decode(Data(#"{"attention_head_dim": [1, 2, 4, 8]}"#.utf8), file: "u")
        XCTAssertEqual(try UNetConfig.decode(JSONEncoder().encode(list), file: "u"), list)
        XCTAssertEqual(try VAEConfig.decode(JSONEncoder().encode(VAEConfig.stableDiffusion15), file: "v"), .stableDiffusion15)
        XCTAssertEqual(try CLIPTextConfig.decode(JSONEncoder().encode(CLIPTextConfig.stableDiffusion15), file: "c"),
                       .stableDiffusion15)
    }
}
