"""The PostgreSQL engine: the destination (binary COPY), the source (binary COPY read), their catalog."""
