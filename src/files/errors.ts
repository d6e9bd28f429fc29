import { DomainError } from '../util/domain-error';

/** An upload crossed MAX_FILE_SIZE while streaming in. */
export class FileTooLargeError extends DomainError {
  readonly kind = 'too_large';

  constructor(readonly maxFileSize: number) {
    super(`file size exceeds the maximum file size of ${maxFileSize} bytes`, { max_file_size: maxFileSize });
  }
}
