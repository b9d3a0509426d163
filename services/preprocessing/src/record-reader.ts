/**
 * Between the parsers and the columnar table: reads the CSV header row (or names header-less
 * columns), rejects ragged rows, rows the parser found broken and rows holding invalid UTF-8,
 * and hands every other record to the {@link ImportTable}.
 */
import { InvalidArgumentError } from '@aimaas/runtime';
import { CsvParser, recordFields, type CsvRecord } from '@aimaas/pipeline';
import type { ImportTable } from './import-table.js';
import { JsonArrayParser, JsonLinesParser, type RecordParser } from './json-parser.js';
import type { DecodedText } from './utf8-stream.js';
import type { ImportLimits } from './preprocessing-options.js';
import { checkColumnNames, type ImportPlan } from './validation.js';

const INVALID_UTF8 = 'invalid UTF-8; expected the file to be UTF-8 text';

/** Feeds decoded text of one import through its parser into its table. */
export class RecordReader {
  /** Something other than blank space was read (else the dataset is empty). */
  sawContent = false;
  private readonly parser: RecordParser;
  private header: string[] | null = null;
  /** Absolute lines holding invalid UTF-8 not yet passed by the records, ascending. */
  private badLines: number[] = [];

  constructor(
    private readonly plan: ImportPlan,
    private readonly table: ImportTable,
    limits: ImportLimits,
  ) {
    if (plan.format === 'csv') {
      const csv = {
        delimiter: plan.delimiter,
        quote: plan.quote,
        maxFields: limits.maxColumns,
        maxFieldChars: limits.maxCellChars,
      };
      this.parser = new CsvParser(csv, (record) => this.csvRecord(record));
    } else {
      const onRecord = (
        value: Record<string, unknown> | undefined,
        line: number,
        endLine: number,
        problem: string | null,
      ): void => {
        this.sawContent = true;
        if (problem !== null) return this.table.malformed(line, '', problem);
        if (this.isBad(line, endLine)) return this.table.malformed(line, '', INVALID_UTF8);
        this.table.addJson(value!, line);
      };
      const json = { maxRecordChars: limits.maxRecordChars, maxDepth: limits.maxJsonDepth };
      this.parser = plan.format === 'jsonl' ? new JsonLinesParser(onRecord, json) : new JsonArrayParser(onRecord, json);
    }
  }

  /** Parses the next decoded piece of the file. */
  push(decoded: DecodedText): void {
    if (decoded.badLines.length > 0) {
      const base = this.parser.currentLine;
      for (const line of decoded.badLines) this.badLines.push(base + line);
    }
    if (!this.sawContent && this.parser instanceof JsonArrayParser && /\S/.test(decoded.text)) this.sawContent = true;
    this.parser.push(decoded.text);
  }

  /** Ends the file. */
  end(): void {
    this.parser.end();
    const unknown = Object.keys(this.plan.overrides).filter((name) => !this.table.columnNames.includes(name));
    if (unknown.length > 0 && this.table.columnNames.length > 0)
      throw unknownOverride(unknown[0]!, this.table.columnNames);
  }

  private csvRecord(record: CsvRecord): void {
    this.sawContent = true;
    const { line, endLine, problem, count } = record;
    if (this.header === null && this.readHeader(record)) return;
    const columns = this.header!;
    if (problem !== null) return this.table.malformed(line, '', problem);
    if (this.badLines.length > 0 && this.isBad(line, endLine)) {
      const at = recordFields(record).findIndex((field) => field.includes('\uFFFD'));
      return this.table.malformed(line, at === -1 || at >= columns.length ? '' : columns[at]!, INVALID_UTF8);
    }
    if (count !== columns.length) {
      const column = count < columns.length ? columns[count]! : '';
      if (this.plan.policy === 'fail')
        throw new InvalidArgumentError(`line ${line}: expected ${columns.length} columns, got ${count}`);
      return this.table.malformed(line, column, `expected ${columns.length} columns, got ${count}`);
    }
    this.table.addCsv(record);
  }

  /** Sets the columns from the first record; true when that record was the header row. */
  private readHeader(record: CsvRecord): boolean {
    const plan = this.plan;
    const { line, endLine, problem } = record;
    const fields = recordFields(record);
    if (plan.header) {
      if (problem !== null) throw new InvalidArgumentError(`line ${line}: the header row is malformed: ${problem}`);
      if (this.isBad(line, endLine))
        throw new InvalidArgumentError(`line ${line}: the header row holds ${INVALID_UTF8}`);
      let names = fields.map((name, i) => (name === '' ? `col_${i + 1}` : name));
      if (plan.columnNames.length > 0) {
        if (plan.columnNames.length !== names.length) {
          throw new InvalidArgumentError(
            `header.csv.column_names has ${plan.columnNames.length} names but the header row (line ${line}) has ${names.length} columns`,
          );
        }
        names = plan.columnNames;
      }
      try {
        checkColumnNames(names, `line ${line} (the header row)`);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message.replace(/\[\d+\] is empty/, ' has an empty name'));
      }
      this.setHeader(names);
      return true;
    }
    this.setHeader(plan.columnNames.length > 0 ? plan.columnNames : fields.map((_, i) => `col_${i + 1}`));
    return false;
  }

  private setHeader(names: string[]): void {
    this.header = names;
    const unknown = Object.keys(this.plan.overrides).find((name) => !names.includes(name));
    if (unknown !== undefined) throw unknownOverride(unknown, names);
    this.table.setColumns(names);
  }

  /** True when a line from `line` to `endLine` held invalid UTF-8. */
  private isBad(line: number, endLine: number): boolean {
    const bad = this.badLines;
    if (bad.length === 0) return false;
    let drop = 0;
    while (drop < bad.length && bad[drop]! < line) drop++;
    if (drop > 0) this.badLines = bad.slice(drop);
    return this.badLines.length > 0 && this.badLines[0]! <= endLine;
  }
}

function unknownOverride(name: string, columns: readonly string[]): InvalidArgumentError {
  const list = columns.length > 20 ? `${columns.slice(0, 20).join(', ')}, …` : columns.join(', ');
  return new InvalidArgumentError(
    `header.column_types names column ${JSON.stringify(name)}, which the file does not have (it has ${list})`,
  );
}
