package dev.iteralite.data;

import dev.iteralite.testing.TestData;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The readers on the real files of {@code ../shared/data} (relative to the project root, or {@code
 * -Ditera.data.dir=...}); skipped with a message where the data is absent.
 *
 * <p>The expected figures: WikiText-2 word counts including one {@code <eos>} per line are the published split sizes
 * (train 2,088,628, valid 217,646, test 245,569; Merity et al. 2016, table 1), which the classic reader of
 * pytorch/examples {@code word_language_model/data.py} ({@code line.split() + ['<eos>']}) reproduces; the line and
 * {@code <unk>} counts are those in {@code shared/data/README.md}. The TinyStories copy has no {@code <|endoftext|>};
 * its blocks were counted independently with Python: 4,300 blocks between empty lines, 4,302 when the two lines that
 * hold a single space (lines 6,285 and 6,338, both between paragraphs) also separate, as this reader defines.
 */
class RealDataTest {
  @TempDir Path tmp;

  private static Path dataFile(String relative) {
    return TestData.require(relative);
  }

  private static long count(WikiText w, String word) {
    long[] n = {0};
    w.forEachWord(x -> {
      if (x.equals(word)) {
        n[0]++;
      }
    });
    return n[0];
  }

  @Test
  void wikiText2TestAndValidWordCounts() throws IOException {
    WikiText test = WikiText.read(dataFile("wikitext-2/test.txt"));
    assertEquals(4358, test.lines().size());
    assertEquals(245_569, test.wordCount());
    assertEquals(15_218, count(test, "<unk>"));
    assertEquals(4358, count(test, WikiText.EOS));
    assertEquals(1_256_449, test.sourceBytes());
    assertEquals(List.of(" ", " = Robert <unk> = "), test.lines().subList(0, 2));
    assertEquals(List.of("<eos>", "=", "Robert", "<unk>", "=", "<eos>"), test.words().limit(6).toList());

    WikiText valid = WikiText.read(dataFile("wikitext-2/valid.txt"));
    assertEquals(3760, valid.lines().size());
    assertEquals(217_646, valid.wordCount());
    assertEquals(11_718, count(valid, "<unk>"));
  }

  @Test
  void wikiText2TrainWordCount() throws IOException {
    WikiText train = WikiText.read(dataFile("wikitext-2/train.txt"));
    assertEquals(36_718, train.lines().size());
    assertEquals(2_088_628, train.wordCount());
    assertEquals(10_797_148, train.sourceBytes());
  }

  @Test
  void wikiText2TestAsByteTokenFile() throws IOException {
    Path src = dataFile("wikitext-2/test.txt");
    try (TokenFile t = TokenFiles.tokenizeFile(src, ByteTokenizer.instance(), tmp.resolve("test.byte.tok"))) {
      assertEquals(1_256_449, t.size());
      assertEquals(1_256_449, t.sourceBytes());
      assertArrayEquals(Files.readAllBytes(src), ByteTokenizer.instance().decode(t.toIntArray()));
      t.verify();
      TrainValSplit split = TrainValSplit.byFraction(t, 0.05);
      ContiguousStreamSampler eval = new ContiguousStreamSampler(split.validation(), 4, 256);
      assertEquals((62_822 / 4 - 1) / 256, eval.windowsPerEpoch());
      Batch b = new RandomWindowSampler(split.train(), 8, 256, 1).next();
      assertEquals(8 * 256, b.inputs().length);
    }
  }

  @Test
  void tinyStoriesBlocks() throws IOException {
    Path f = dataFile("tinystories/tinystories_val.txt");
    String text = Files.readString(f);
    assertEquals(TinyStories.Layout.BLANK_LINES, TinyStories.layoutOf(text));
    TextCorpus c = TinyStories.read(f);
    assertEquals(4_302, c.size());
    assertEquals(794_375, c.sourceBytes());
    assertTrue(c.documents().get(0).startsWith("Spot. Spot saw the shiny car"), c.documents().get(0));
    assertTrue(c.documents().get(c.size() - 1).endsWith("He knew he would always remember his special performance."));
    assertEquals(713, c.documents().stream().filter(d -> d.startsWith("Once upon a time")).count());
  }

  @Test
  void tinyShakespeareAsPlainText() throws IOException {
    TextCorpus c = TextCorpus.plainText(dataFile("tinyshakespeare/input.txt"));
    assertEquals(1, c.size());
    assertEquals(1_115_394, c.sourceBytes());
    assertEquals(1_115_394, c.documents().get(0).length());
    assertTrue(c.documents().get(0).startsWith("First Citizen:"));
  }
}
