-- The keys a journal increment touches (see macros/journal_increment.sql): empty outside
-- an increment. Kinds:
--   customer         a customer-master change;
--   document         an items-ledger change;
--   customer_status  a customer whose financial status may change: a customer-master
--                    change, and the customer of every touched document (before and after
--                    the change, the latter from the last build's marts.fct_invoices,
--                    named in full as dbt names it so the column lineage follows it).
-- Customers whose CRM match moved come from int_journal_increment_moved_matches.
{{ config(materialized='table') }}

{%- set increment = not flags.FULL_REFRESH %}

with

customer_changes as (
    select * from {{ ref('stg_legacy_cdc__customer_changes') }}
),

document_changes as (
    select * from {{ ref('stg_legacy_cdc__open_item_changes') }}
),

changed_customers as (
    select distinct cast(customer_number as varchar) as key_value
    from customer_changes
    where
        {% if increment %}
            change_sequence > {{ journal_since('customers') }}
        {% else %}
            false
        {% endif %}
),

changed_documents as (
    select distinct
        document_number as key_value,
        customer_number
    from document_changes
    where
        {% if increment %}
            change_sequence > {{ journal_since('open_items') }}
        {% else %}
            false
        {% endif %}
),

earlier_customers as (
    {% if increment %}
        select cast(built.customer_number as varchar) as key_value
        from "{{ target.database }}"."marts"."fct_invoices" as built  -- noqa: RF06
        inner join changed_documents on built.document_number = changed_documents.key_value
    {% else %}
        select cast(null as varchar) as key_value
        from changed_documents
        where false
    {% endif %}
),

keys as (
    select
        'customer' as key_kind,
        key_value
    from changed_customers
    union
    select
        'document' as key_kind,
        key_value
    from changed_documents
    union
    select
        'customer_status' as key_kind,
        key_value
    from changed_customers
    union
    select
        'customer_status' as key_kind,
        cast(customer_number as varchar) as key_value
    from changed_documents
    union
    select
        'customer_status' as key_kind,
        key_value
    from earlier_customers
)

select * from keys
where key_value is not null
