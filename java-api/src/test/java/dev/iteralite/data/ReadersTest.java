package dev.iteralite.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The text readers on small inputs: empty lines, headings, missing final newline, CRLF, both TinyStories layouts. */
class ReadersTest {
  @TempDir Path dir;

  private static List<String> words(WikiText w) {
    List<String> out = new ArrayList<>();
    w.forEachWord(out::add);
    assertEquals(out, w.words().collect(Collectors.toList()), "words() and forEachWord agree");
    assertEquals(out.size(), w.wordCount(), "wordCount counts the same words");
    return out;
  }

  @Test
  void wikiTextEveryLineGetsEosIncludingEmptyOnesAndHeadings() {
    WikiText w = WikiText.parse("t", " \n = Robert <unk> = \n\n A @-@ b  c \n");
    assertEquals(List.of(" ", " = Robert <unk> = ", "", " A @-@ b  c "), w.lines());
    assertEquals(List.of("<eos>", "=", "Robert", "<unk>", "=", "<eos>", "<eos>", "A", "@-@", "b", "c", "<eos>"),
        words(w));
    assertEquals(List.of("x", "<eos>"), WikiText.lineWords(" x "));
    // the same separators as Python's str.split(): tab, no-break space, NEL, ideographic space
    assertEquals(List.of("a", "b", "c", "d", "e", "<eos>"), WikiText.lineWords("a\tb\u00A0c\u0085d\u3000e"));
  }

  @Test
  void wikiTextLastLineWithoutNewlineStillCounts() {
    WikiText w = WikiText.parse("t", "a b\nc");
    assertEquals(List.of("a b", "c"), w.lines());
    assertEquals(List.of("a", "b", "<eos>", "c", "<eos>"), words(w));
  }

  @Test
  void wikiTextCrlfLinesLikeLfButRawTextKept() {
    WikiText w = WikiText.parse("t", "a b\r\n\r\nc\r\n");
    assertEquals(List.of("a b", "", "c"), w.lines());
    assertEquals(List.of("a", "b", "<eos>", "<eos>", "c", "<eos>"), words(w));
    assertEquals("a b\r\n\r\nc\r\n", w.text());
    assertEquals(10, w.sourceBytes());
  }

  @Test
  void wikiTextEmptyAndNewlineOnly() {
    assertEquals(0, WikiText.parse("t", "").wordCount());
    assertEquals(List.of(""), WikiText.parse("t", "\n").lines());
    assertEquals(1, WikiText.parse("t", "\n").wordCount());
  }

  @Test
  void wikiTextFromFileAndUtf8Errors() throws IOException {
    Path f = dir.resolve("w.txt");
    Files.writeString(f, " \n = Café = \n", StandardCharsets.UTF_8);
    WikiText w = WikiText.read(f);
    assertEquals("w.txt", w.name());
    assertEquals(Files.size(f), w.sourceBytes());
    assertEquals(5, w.wordCount());
    assertEquals(List.of(w.text()), w.corpus().documents());
    Path bad = dir.resolve("bad.txt");
    Files.write(bad, new byte[] {'a', (byte) 0xC3, '\n'});
    IOException e = assertThrows(IOException.class, () -> WikiText.read(bad));
    assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
  }

  @Test
  void tinyStoriesEndOfTextLayout() {
    String text = "Once upon a time.\nThe end.\n<|endoftext|>\nTom ran.\r\n<|endoftext|>\n\n<|endoftext|>\nLast";
    assertEquals(TinyStories.Layout.END_OF_TEXT, TinyStories.layoutOf(text));
    assertEquals(List.of("Once upon a time.\nThe end.", "Tom ran.", "Last"), TinyStories.split(text));
  }

  @Test
  void tinyStoriesBlankLineLayoutTreatsWhitespaceOnlyLinesAsBlank() {
    String text = "\nA one.\nA two.\n\nB.\n \n\n\nC.\r\n\r\nD, no final newline";
    assertEquals(TinyStories.Layout.BLANK_LINES, TinyStories.layoutOf(text));
    assertEquals(List.of("A one.\nA two.", "B.", "C.", "D, no final newline"), TinyStories.split(text));
    assertEquals(List.of(), TinyStories.split(""));
    assertEquals(List.of(), TinyStories.split("\n \n"));
  }

  @Test
  void tinyStoriesFromFile() throws IOException {
    Path f = dir.resolve("s.txt");
    Files.writeString(f, "One.\n\nTwo.\n");
    TextCorpus c = TinyStories.read(f);
    assertEquals(List.of("One.", "Two."), c.documents());
    assertEquals(11, c.sourceBytes());
    assertEquals("s.txt", c.name());
    assertEquals("One.\n\nTwo.", c.joined("\n\n"));
    assertEquals(8, c.documentBytes());
  }

  @Test
  void plainTextIsOneVerbatimDocument() throws IOException {
    Path f = dir.resolve("p.txt");
    Files.writeString(f, "line 1\r\nline 2\n\nno newline", StandardCharsets.UTF_8);
    TextCorpus c = TextCorpus.plainText(f);
    assertEquals(List.of("line 1\r\nline 2\n\nno newline"), c.documents());
    assertEquals(Files.size(f), c.sourceBytes());
    assertThrows(IllegalArgumentException.class, () -> new TextCorpus("x", List.of(), -1));
  }
}
