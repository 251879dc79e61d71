"""Running SQL through Django's connection, and INSERT ... SELECT statements for a model."""

from django.db import connection, models


def insert_sql(model, given: dict[str, str], source: str, params: dict, *, suffix: str = "") -> str:
    """INSERT INTO the model's table SELECT ... `source`: the columns in `given` (attname -> SQL
    expression) as given, automatic timestamps as %(now)s, every other column its field default
    (bound in `params`), so that a field added to a model with a default needs no change here."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.generated:  # computed when read (days past due): no column
            continue
        if field.attname in given:
            value = given[field.attname]
        elif isinstance(field, models.AutoField):
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = "%(now)s"
        elif field.has_default() or field.null or field.empty_strings_allowed:
            name = f"default_{model._meta.model_name}_{field.attname}"
            params[name] = field.get_db_prep_save(field.get_default(), connection)
            value = f"%({name})s"
        else:
            raise ValueError(f"{model.__name__}.{field.name} has no default: give it a value")
        columns.append(connection.ops.quote_name(field.column))
        values.append(value)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} {source} {suffix}"


def execute(sql: str, params: dict | None = None) -> int:
    """Run one statement; returns the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert(model, given: dict[str, str], source: str, params: dict, *, suffix: str = "") -> int:
    """Run insert_sql's statement; returns the number of rows inserted."""
    return execute(insert_sql(model, given, source, params, suffix=suffix), params)
