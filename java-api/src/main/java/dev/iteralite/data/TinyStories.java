package dev.iteralite.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Reads TinyStories text files into a {@link TextCorpus} of stories, whichever of the two layouts a file uses.
 *
 * <ul>
 *   <li>{@link Layout#END_OF_TEXT} (the official {@code TinyStories*-valid.txt}/{@code -train.txt}): when the file
 *       contains {@value #END_OF_TEXT}, it is split on that marker; each piece, with line endings normalised to
 *       {@code '\n'} and leading/trailing whitespace removed, is a story; empty pieces are dropped.
 *   <li>{@link Layout#BLANK_LINES} (files without the marker, such as the {@code tinystories_val.txt} copy in
 *       {@code shared/data}): documents are the blocks of consecutive non-blank lines, separated by one or more
 *       <em>blank</em> lines (empty, or only whitespace). A block's lines are joined with {@code '\n'} (a trailing
 *       {@code '\r'} removed from each). In such files paragraphs and stories are both separated by one blank line, so
 *       a "story" here is a paragraph-level block; story boundaries are not recoverable.
 * </ul>
 */
public final class TinyStories {
  /** The story separator of the official files. */
  public static final String END_OF_TEXT = "<|endoftext|>";

  /** How a file separates its stories. */
  public enum Layout {
    /** Stories separated by {@value TinyStories#END_OF_TEXT}. */
    END_OF_TEXT,
    /** Documents separated by blank lines. */
    BLANK_LINES
  }

  private TinyStories() {}

  /** The layout of {@code text}: {@link Layout#END_OF_TEXT} if it contains the marker, else blank lines. */
  public static Layout layoutOf(String text) {
    return text.contains(END_OF_TEXT) ? Layout.END_OF_TEXT : Layout.BLANK_LINES;
  }

  /**
   * Reads a UTF-8 TinyStories file.
   *
   * @throws IOException if the file cannot be read or is not valid UTF-8
   */
  public static TextCorpus read(Path file) throws IOException {
    String text = TextFiles.readUtf8(file);
    return new TextCorpus(String.valueOf(file.getFileName()), split(text), Files.size(file));
  }

  /** A corpus from text already in memory, split as {@link #split} does. */
  public static TextCorpus parse(String name, String text) {
    return new TextCorpus(name, split(text), text.getBytes(StandardCharsets.UTF_8).length);
  }

  /** The stories of {@code text} under its {@linkplain #layoutOf layout}. */
  public static List<String> split(String text) {
    Objects.requireNonNull(text, "text");
    List<String> stories = new ArrayList<>();
    if (layoutOf(text) == Layout.END_OF_TEXT) {
      String normalised = text.replace("\r\n", "\n");
      int start = 0;
      while (true) {
        int at = normalised.indexOf(END_OF_TEXT, start);
        int end = at < 0 ? normalised.length() : at;
        String story = normalised.substring(start, end).strip();
        if (!story.isEmpty()) {
          stories.add(story);
        }
        if (at < 0) {
          break;
        }
        start = at + END_OF_TEXT.length();
      }
      return stories;
    }
    StringBuilder block = new StringBuilder();
    boolean open = false;
    for (String line : TextFiles.lines(text)) {
      if (TextFiles.isBlank(line)) {
        if (open) {
          stories.add(block.toString());
          block.setLength(0);
          open = false;
        }
      } else {
        if (open) {
          block.append('\n');
        }
        block.append(line);
        open = true;
      }
    }
    if (open) {
      stories.add(block.toString());
    }
    return stories;
  }
}
