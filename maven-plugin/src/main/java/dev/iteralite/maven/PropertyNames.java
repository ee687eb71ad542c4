package dev.iteralite.maven;

/**
 * Every user property the {@code itera} goals read, in one place (WildFly's plugins do the same),
 * so names stay consistent: {@code -Ditera.<name>} for settings shared by all goals, {@code
 * -Ditera.<goal>.<name>} for a goal's own.
 */
public final class PropertyNames {
  private PropertyNames() {}

  /** Skips every itera goal. */
  public static final String SKIP = "itera.skip";
  /** Itera-Lite preset with random, seeded weights: {@code tiny} or {@code small}. */
  public static final String PRESET = "itera.preset";
  /** Seed of a preset's weights. */
  public static final String SEED = "itera.seed";
  /** A llama2.c checkpoint file ({@code .bin}). */
  public static final String LLAMA2C_CHECKPOINT = "itera.llama2cCheckpoint";
  /** The llama2.c tokenizer file that goes with it. */
  public static final String LLAMA2C_TOKENIZER = "itera.llama2cTokenizer";
  /** An Itera-Lite checkpoint directory (a root with a LAST pointer, or one checkpoint folder). */
  public static final String CHECKPOINT = "itera.checkpoint";
  /** Native worker threads (>= 1; unset = every core); the library's {@code Backends} reads it too. */
  public static final String THREADS = "itera.threads";

  public static final String BENCHMARK_SKIP = "itera.benchmark.skip";
  public static final String BENCHMARK_NAME = "itera.benchmark.name";
  public static final String BENCHMARK_OUTPUT = "itera.benchmark.output";
  public static final String BENCHMARK_PROMPT_TOKENS = "itera.benchmark.promptTokens";
  public static final String BENCHMARK_DECODE_TOKENS = "itera.benchmark.decodeTokens";
  public static final String BENCHMARK_WARMUP_ROUNDS = "itera.benchmark.warmupRounds";
  public static final String BENCHMARK_ROUNDS = "itera.benchmark.rounds";
  public static final String BENCHMARK_EVAL_TEXT = "itera.benchmark.evalText";
  public static final String BENCHMARK_EVAL_WINDOW = "itera.benchmark.evalWindow";
  public static final String BENCHMARK_MAX_EVAL_TOKENS = "itera.benchmark.maxEvalTokens";
  public static final String BENCHMARK_KERNELS = "itera.benchmark.kernels";
  public static final String BENCHMARK_MIN_TOKENS_PER_SECOND = "itera.benchmark.minTokensPerSecond";
  public static final String BENCHMARK_MAX_PERPLEXITY = "itera.benchmark.maxPerplexity";
  public static final String BENCHMARK_HALT_ON_FAILURE = "itera.benchmark.haltOnFailure";
  public static final String BENCHMARK_FORMATS = "itera.benchmark.formats";

  public static final String COMPRESS_SKIP = "itera.compress.skip";
  public static final String COMPRESS_FORCE = "itera.compress.force";
  public static final String COMPRESS_WHICH = "itera.compress.which";
  public static final String COMPRESS_OUTPUT_DIRECTORY = "itera.compress.outputDirectory";
  public static final String COMPRESS_OUTPUT = "itera.compress.output";
  public static final String COMPRESS_FORMATS = "itera.compress.formats";
  public static final String COMPRESS_PRECISION_PLAN = "itera.compress.precisionPlan";
  public static final String COMPRESS_TARGET_BITS = "itera.compress.targetBits";
  public static final String COMPRESS_SEARCH_MAX_PERPLEXITY_INCREASE = "itera.compress.searchMaxPerplexityIncrease";
  public static final String COMPRESS_SEARCH_HIGH = "itera.compress.searchHigh";
  public static final String COMPRESS_SEARCH_LOW = "itera.compress.searchLow";
  public static final String COMPRESS_CALIBRATION_WINDOWS = "itera.compress.calibrationWindows";
  public static final String COMPRESS_CALIBRATION_WINDOW_LENGTH = "itera.compress.calibrationWindowLength";
  public static final String COMPRESS_PRUNE_EXPERTS = "itera.compress.pruneExperts";
  public static final String COMPRESS_PRUNE_CHANNELS = "itera.compress.pruneChannels";
  public static final String COMPRESS_RECOVERY_STEPS = "itera.compress.recoverySteps";
  public static final String COMPRESS_RECOVERY_LR = "itera.compress.recoveryLr";
  public static final String COMPRESS_DISTILL_D_MODEL = "itera.compress.distillDModel";
  public static final String COMPRESS_DISTILL_LAYERS = "itera.compress.distillLayers";
  public static final String COMPRESS_DISTILL_STEPS = "itera.compress.distillSteps";
  public static final String COMPRESS_DISTILL_ALPHA = "itera.compress.distillAlpha";
  public static final String COMPRESS_DISTILL_TEMPERATURE = "itera.compress.distillTemperature";
  public static final String COMPRESS_TRIM_VOCABULARY = "itera.compress.trimVocabulary";
  public static final String COMPRESS_VOCABULARY_CORPUS = "itera.compress.vocabularyCorpus";
  public static final String COMPRESS_WINDOWS = "itera.compress.windows";
  public static final String COMPRESS_WINDOW_LENGTH = "itera.compress.windowLength";
  public static final String COMPRESS_PROMPT_TOKENS = "itera.compress.promptTokens";
  public static final String COMPRESS_DECODE_TOKENS = "itera.compress.decodeTokens";
  public static final String COMPRESS_ROUNDS = "itera.compress.rounds";
  public static final String COMPRESS_MAX_PERPLEXITY_INCREASE = "itera.compress.maxPerplexityIncrease";
  public static final String COMPRESS_HALT_ON_FAILURE = "itera.compress.haltOnFailure";

  public static final String GENERATE_SKIP = "itera.generate.skip";
  public static final String GENERATE_PROMPT = "itera.generate.prompt";
  public static final String GENERATE_MAX_NEW_TOKENS = "itera.generate.maxNewTokens";
  public static final String GENERATE_TEMPERATURE = "itera.generate.temperature";
  public static final String GENERATE_TOP_K = "itera.generate.topK";
  public static final String GENERATE_TOP_P = "itera.generate.topP";
  public static final String GENERATE_SEED = "itera.generate.seed";
  public static final String GENERATE_OUTPUT = "itera.generate.output";
}
