-- The keys a journal increment touches (see macros/journal_increment.sql): empty outside
-- an increment. Kinds:
--   customer         a customer-master change;
--   document         an items-ledger change;
--   customer_status  a customer whose financial status may change: a customer-master
--                    change, and the customer of every touched document (before and after
--                    the change, the latter from the last build's marts.invoices,
--                    named in full as dbt names it so the column lineage follows it);
--   customer_revenue a customer whose invoiced revenue may change: a customer-master
--                    change, and the customers of the documents inserted, deleted, or
--                    updated in anything but their open amount and dunning (a payment
--                    clears an item; the revenue it counts stays).
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

new_document_changes as (
    select * from document_changes
    where
        {% if increment %}
            change_sequence > {{ journal_since('open_items') }}
        {% else %}
            false
        {% endif %}
),

changed_documents as (
    select distinct
        document_number as key_value,
        customer_number
    from new_document_changes
),

revenue_documents as (
    select distinct
        document_number as key_value,
        customer_number
    from new_document_changes
    where
        change_operation != 'update'
        or amount is distinct from amount_before
        or customer_number is distinct from customer_number_before
        or document_type_code is distinct from document_type_code_before
        or currency_code is distinct from currency_code_before
        or document_date is distinct from document_date_before
),

earlier_customers as (
    {% if increment %}
        select
            cast(built.customer_number as varchar) as key_value,
            revenue_documents.key_value is not null as of_revenue_document
        from "{{ target.database }}"."marts"."invoices" as built  -- noqa: RF06
        inner join changed_documents on built.document_number = changed_documents.key_value
        left join revenue_documents on built.document_number = revenue_documents.key_value
    {% else %}
        select
            cast(null as varchar) as key_value,
            false as of_revenue_document
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
    union
    select
        'customer_revenue' as key_kind,
        key_value
    from changed_customers
    union
    select
        'customer_revenue' as key_kind,
        cast(customer_number as varchar) as key_value
    from revenue_documents
    union
    select
        'customer_revenue' as key_kind,
        key_value
    from earlier_customers
    where of_revenue_document
)

select * from keys
where key_value is not null
